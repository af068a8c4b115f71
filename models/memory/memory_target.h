// Guest RAM as a TLM-2.0 target, so the modeled memory can be bound into
// other virtual platforms and reached by TLM initiators (a PCIe DMA engine,
// a CPU model). Each transaction goes through the MemoryModel with the
// initiating agent named by an AgentExtension (no extension: `default_agent`);
// the latency is added to the transaction's delay (LT) as TLM-2.0 base
// protocol prescribes.
#pragma once

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "models/memory/memory_model.h"

namespace virtiosim::memory {

struct AgentExtension : tlm::tlm_extension<AgentExtension> {
  unsigned agent = 0;
  explicit AgentExtension(unsigned a = 0) : agent(a) {}
  tlm::tlm_extension_base* clone() const override { return new AgentExtension(agent); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    agent = static_cast<const AgentExtension&>(other).agent;
  }
};

class MemoryTarget : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MemoryTarget> socket;

  MemoryTarget(sc_core::sc_module_name name, MemoryModel& model, unsigned default_agent);

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned transport_dbg(tlm::tlm_generic_payload& trans);

  MemoryModel& model_;
  unsigned default_agent_;
};

}  // namespace virtiosim::memory
