// The virtio-net header in front of every frame on the rings (virtio 1.2
// 5.1.6 "Device Operation"): one definition for the simulator's driver and
// device and for the vhost-user back-end and front-end.
#pragma once

#include <cstddef>
#include <cstdint>

#include "models/net/virtio_net_uapi.h"

namespace virtiosim::net {

// struct virtio_net_hdr_mrg_rxbuf: the header whenever VERSION_1 or
// MRG_RXBUF is negotiated; num_buffers (the RX buffers a frame spans) is
// meaningful only with MRG_RXBUF.
inline constexpr uint32_t kNetHdrBytes = sizeof(virtio_net_hdr_mrg_rxbuf);
inline constexpr uint32_t kNumBuffersOffset = offsetof(virtio_net_hdr_mrg_rxbuf, num_buffers);
// struct virtio_net_hdr alone: a legacy device without MRG_RXBUF.
inline constexpr uint32_t kNetHdrLegacyBytes = sizeof(virtio_net_hdr);
static_assert(kNetHdrBytes == 12 && kNumBuffersOffset == 10 && kNetHdrLegacyBytes == 10);

// The header length for a negotiated feature set.
constexpr uint32_t net_hdr_bytes(uint64_t features) {
  constexpr uint64_t mrg_layout = uint64_t{1} << VIRTIO_F_VERSION_1 | uint64_t{1} << VIRTIO_NET_F_MRG_RXBUF;
  return (features & mrg_layout) ? kNetHdrBytes : kNetHdrLegacyBytes;
}

}  // namespace virtiosim::net
