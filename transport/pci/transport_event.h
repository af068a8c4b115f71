// What observers (sim/check) hear of the transport seam
// (transport/pci/virtio_if.h), per queue: a kick as the driver writes it
// and as it reaches the device, a queue interrupt as the device raises it
// and as its MSI-X message is sent, a queue reset complete and the queue
// enabled again (P15). The transport reports the ends it owns; the
// platform observes the device's end. No SystemC: the checker includes it.
#pragma once

#include <cstdint>

namespace virtiosim::pci {

enum class TransportEvent : uint8_t { kick_sent, kick_delivered, interrupt_sent, interrupt_delivered, queue_reset, queue_enabled };

}  // namespace virtiosim::pci
