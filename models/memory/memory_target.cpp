#include "models/memory/memory_target.h"

#include <cstring>

namespace virtiosim::memory {

MemoryTarget::MemoryTarget(sc_core::sc_module_name name, MemoryModel& model, unsigned default_agent)
    : sc_module(name), socket("socket"), model_(model), default_agent_(default_agent) {
  socket.register_b_transport(this, &MemoryTarget::b_transport);
  socket.register_transport_dbg(this, &MemoryTarget::transport_dbg);
}

void MemoryTarget::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const uint64_t addr = trans.get_address();
  const unsigned len = trans.get_data_length();
  if (trans.get_byte_enable_ptr() || trans.get_streaming_width() < len) {
    trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    return;
  }
  if (!model_.maps(addr, len)) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  AgentExtension* ext = nullptr;
  trans.get_extension(ext);
  const unsigned agent = ext && ext->agent < model_.agents() ? ext->agent : default_agent_;
  const sc_core::sc_time at = sc_core::sc_time_stamp() + delay;
  const uint64_t now_ps = static_cast<uint64_t>(at.to_seconds() * 1e12 + 0.5);
  double ns;
  if (trans.is_read()) ns = model_.read(agent, now_ps, addr, trans.get_data_ptr(), len, len <= 8);
  else if (trans.is_write()) ns = model_.write(agent, now_ps, addr, trans.get_data_ptr(), len, len <= 8);
  else ns = 0;
  delay += sc_core::sc_time(ns, sc_core::SC_NS);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

// Debug access: no time, no cost, no ordering; what memory holds now.
unsigned MemoryTarget::transport_dbg(tlm::tlm_generic_payload& trans) {
  const uint64_t addr = trans.get_address();
  const unsigned len = trans.get_data_length();
  if (!model_.maps(addr, len)) return 0;
  if (trans.is_read()) std::memcpy(trans.get_data_ptr(), model_.ram().host(addr), len);
  else if (trans.is_write()) std::memcpy(model_.ram().host(addr), trans.get_data_ptr(), len);
  return len;
}

}  // namespace virtiosim::memory
