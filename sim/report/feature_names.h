// The names of virtio-net feature bits, as the specification and Linux
// spell them (virtio 1.2 5.1.3 "Feature bits" and 6 "Reserved Feature
// Bits"), for the report: a negotiated feature word reads as names, not as a
// decimal number.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/net/virtio_net_uapi.h"
#include "models/ring/features.h"  // the reserved bits, those the uapi headers predate too

namespace virtiosim::sim {

struct FeatureName {
  unsigned bit;
  const char* name;
};

#define VIRTIOSIM_FEATURE(bit) FeatureName{bit, #bit}
inline constexpr FeatureName kFeatureNames[] = {
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_CSUM),           VIRTIOSIM_FEATURE(VIRTIO_NET_F_GUEST_CSUM),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS), VIRTIOSIM_FEATURE(VIRTIO_NET_F_MTU),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_MAC),            VIRTIOSIM_FEATURE(VIRTIO_NET_F_GSO),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_GUEST_TSO4),     VIRTIOSIM_FEATURE(VIRTIO_NET_F_GUEST_TSO6),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_GUEST_ECN),      VIRTIOSIM_FEATURE(VIRTIO_NET_F_GUEST_UFO),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_HOST_TSO4),      VIRTIOSIM_FEATURE(VIRTIO_NET_F_HOST_TSO6),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_HOST_ECN),       VIRTIOSIM_FEATURE(VIRTIO_NET_F_HOST_UFO),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_MRG_RXBUF),      VIRTIOSIM_FEATURE(VIRTIO_NET_F_STATUS),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_CTRL_VQ),        VIRTIOSIM_FEATURE(VIRTIO_NET_F_CTRL_RX),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_CTRL_VLAN),      VIRTIOSIM_FEATURE(VIRTIO_NET_F_CTRL_RX_EXTRA),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_GUEST_ANNOUNCE), VIRTIOSIM_FEATURE(VIRTIO_NET_F_MQ),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_CTRL_MAC_ADDR),  VIRTIOSIM_FEATURE(VIRTIO_F_NOTIFY_ON_EMPTY),
    VIRTIOSIM_FEATURE(VIRTIO_F_ANY_LAYOUT),         VIRTIOSIM_FEATURE(VIRTIO_RING_F_INDIRECT_DESC),
    VIRTIOSIM_FEATURE(VIRTIO_RING_F_EVENT_IDX),     VIRTIOSIM_FEATURE(VIRTIO_F_VERSION_1),
    VIRTIOSIM_FEATURE(VIRTIO_F_ACCESS_PLATFORM),    VIRTIOSIM_FEATURE(VIRTIO_F_RING_PACKED),
    VIRTIOSIM_FEATURE(VIRTIO_F_IN_ORDER),           VIRTIOSIM_FEATURE(VIRTIO_F_ORDER_PLATFORM),
    VIRTIOSIM_FEATURE(VIRTIO_F_SR_IOV),             VIRTIOSIM_FEATURE(VIRTIO_F_NOTIFICATION_DATA),
    VIRTIOSIM_FEATURE(VIRTIO_F_RING_RESET),         VIRTIOSIM_FEATURE(VIRTIO_NET_F_NOTF_COAL),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_HASH_REPORT),    VIRTIOSIM_FEATURE(VIRTIO_NET_F_RSS),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_RSC_EXT),        VIRTIOSIM_FEATURE(VIRTIO_NET_F_STANDBY),
    VIRTIOSIM_FEATURE(VIRTIO_NET_F_SPEED_DUPLEX),
};
#undef VIRTIOSIM_FEATURE

// The set bits of `features` by name, lowest bit first; a bit without a
// name reads "bit N".
inline std::vector<std::string> feature_names(uint64_t features) {
  std::vector<std::string> out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(features >> bit & 1)) continue;
    const char* name = nullptr;
    for (const FeatureName& f : kFeatureNames)
      if (f.bit == bit) name = f.name;
    out.push_back(name ? name : "bit " + std::to_string(bit));
  }
  return out;
}

}  // namespace virtiosim::sim
