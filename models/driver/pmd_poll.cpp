// The poll-mode driver (driver.kind=pmd): DPDK's virtio PMD as testpmd runs
// it, or virtio-user in a host process (path=user). One lcore per queue
// pair loops forever: an rx_burst (virtio_recv_pkts: take up to `burst`
// used buffers, refill every free slot, kick only if the device asks), then
// a tx_burst (virtio_xmit_pkts: reclaim completions only when the ring runs
// low, enqueue up to `burst` frames, kick once per burst only if the device
// asks). Interrupts stay off on every queue (virtqueue_disable_intr at
// start), and a lap that found nothing costs pmd_poll_cycles and goes round
// again: the core never sleeps.
#include <algorithm>

#include "models/driver/net_driver.h"
#include "models/driver/queue_pair.h"

namespace virtiosim::driver {

void NetDriver::pmd_loop(QueuePair& q) {
  q.rx->disable_cb();
  q.tx->disable_cb();
  refill_rx(q);
  kick(q, *q.rx, static_cast<uint16_t>(2 * q.index));  // virtio_dev_start notifies every RX queue once
  while (!failed()) {
    const uint32_t received = pmd_rx_burst(q);
    if (failed()) return;
    const uint32_t sent = pmd_tx_burst(q);
    if (received || sent) continue;
    // Everything sent: what the device completed is freed, as testpmd's
    // stop does (a running PMD reclaims only when the ring runs low).
    if (q.stats.tx_packets == q.stats.quota) reclaim_tx(q);
    charge_cycles(q, cfg_.params.pmd_poll_cycles);
  }
}

uint32_t NetDriver::pmd_rx_burst(QueuePair& q) {
  uint32_t received = 0;
  ring::UsedBuffer u;
  while (received < cfg_.params.burst) {
    const ring::Result<bool> r = q.rx->get_used(u);
    if (!ok(q, r.error, "rx get_used") || !r.value) break;
    if (!receive_frame(q, u)) return received;
    ++received;
  }
  if (received == 0 || failed()) return received;
  refill_rx(q);
  kick(q, *q.rx, static_cast<uint16_t>(2 * q.index));
  return received;
}

uint32_t NetDriver::pmd_tx_burst(QueuePair& q) {
  if (q.tx->num_free() < cfg_.params.pmd_tx_free_thresh) reclaim_tx(q);
  const bool paced = cfg_.params.offered_pps > 0;
  uint32_t sent = 0;
  while (sent < cfg_.params.burst && q.stats.tx_packets < q.stats.quota) {
    if (paced && q.clock.now() < q.next_send) break;
    if (!xmit(q)) {
      if (failed()) return sent;
      reclaim_tx(q);  // the ring ran out mid-burst: free what the device completed
      if (!xmit(q)) {
        if (failed()) return sent;
        ++q.stats.tx_ring_full;
        break;
      }
    }
    if (paced) q.next_send = std::max(q.next_send, q.clock.now()) + arrival_gap(q);
    ++sent;
  }
  if (sent) kick(q, *q.tx, static_cast<uint16_t>(2 * q.index + 1));
  return sent;
}

}  // namespace virtiosim::driver
