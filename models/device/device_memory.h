// How the device reaches guest memory, as a ring memory policy wrapped
// around the simulator's SimMemory (the ring core runs unchanged on it):
//   direct   a vhost worker with a kernel mapping of the ring: plain loads
//            and stores, costed by the cache model alone;
//   uaccess  a vhost worker going through copy_from_user / put_user for
//            each ring metadata access: a fixed checked-access overhead on
//            top of the cache cost (the cost that decides packed vs split
//            in Linux vhost);
//   dma      a PCIe device: reads are non-posted round trips, writes are
//            posted, both limited by link bandwidth.
// Behind an IOMMU (VIRTIO_F_ACCESS_PLATFORM) every address the device uses
// is an IOVA, translated by the device's IOTLB first: an access it refuses
// leaves a sticky fault() and touches nothing (reads give zeros, writes are
// dropped); the device turns the fault into a broken queue.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "models/device/iotlb.h"
#include "models/memory/sim_memory.h"
#include "models/param.h"
#include "models/ring/memory_policy.h"

namespace virtiosim::device {

enum class MetadataAccess : uint8_t { direct, uaccess, dma };
const char* name(MetadataAccess m);

#define VIRTIOSIM_DEVICE_MEMORY_PARAMS(X)                                                    \
  X(double, uaccess_ns, 12.0, "ns",                                                          \
    "uaccess: per ring-field access overhead of a checked user copy (STAC/CLAC, access_ok, ~40 cycles at 3.3 GHz)") \
  X(double, dma_read_ns, 800.0, "ns",                                                        \
    "pcie: DMA read round trip to host memory (~0.8 us, Gen3 root complex + DRAM)")          \
  X(double, dma_write_ns, 20.0, "ns",                                                        \
    "pcie: device cost of issuing a posted DMA write (TLP build, no wait)")                 \
  X(double, pcie_bytes_per_ns, 7.9, "bytes/ns", "pcie: link bandwidth, Gen3 x8 ~7.9 GB/s")     \
  X(uint32_t, dma_read_block_bytes, 64, "bytes",                                             \
    "pcie: one DMA read brings this aligned block (4 packed descriptors); reads within it are free until a barrier or write")

struct DeviceMemoryParams {
  VIRTIOSIM_DEVICE_MEMORY_PARAMS(VIRTIOSIM_PARAM_FIELD)
  template <class F>
  void visit(F&& f) {
    VIRTIOSIM_DEVICE_MEMORY_PARAMS(VIRTIOSIM_PARAM_VISIT)
  }
};

class DeviceMemory {
 public:
  // `iotlb`: null unless ACCESS_PLATFORM was negotiated.
  DeviceMemory(memory::SimMemory mem, MetadataAccess mode, const DeviceMemoryParams* p, Iotlb* iotlb = nullptr)
      : mem_(mem), mode_(mode), p_(p), iotlb_(iotlb) {}

  bool maps(uint64_t a, uint64_t n) const { return iotlb_ ? Iotlb::in_iova_space(a, n) : mem_.maps(a, n); }

  // Without an IOMMU an access is the plain one; the translated path stays
  // out of line so the ring core's inlined accessors do not grow.
  uint16_t read16(uint64_t a) { return iotlb_ ? read_iova<uint16_t>(a) : (charge_read(a, 2), mem_.read16(a)); }
  uint32_t read32(uint64_t a) { return iotlb_ ? read_iova<uint32_t>(a) : (charge_read(a, 4), mem_.read32(a)); }
  uint64_t read64(uint64_t a) { return iotlb_ ? read_iova<uint64_t>(a) : (charge_read(a, 8), mem_.read64(a)); }
  void write16(uint64_t a, uint16_t v) { iotlb_ ? write_iova(a, v) : (charge_write(2), mem_.write16(a, v)); }
  void write32(uint64_t a, uint32_t v) { iotlb_ ? write_iova(a, v) : (charge_write(4), mem_.write32(a, v)); }
  void write64(uint64_t a, uint64_t v) { iotlb_ ? write_iova(a, v) : (charge_write(8), mem_.write64(a, v)); }
  // Bulk data (indirect tables, payload): one checked copy or one DMA burst
  // (behind an IOMMU: one per IOVA page, each translated).
  void read_bytes(uint64_t a, void* dst, uint64_t n) {
    iotlb_ ? read_bytes_iova(a, static_cast<uint8_t*>(dst), n) : (charge_read(a, n), mem_.read_bytes(a, dst, n));
  }
  void write_bytes(uint64_t a, const void* src, uint64_t n) {
    iotlb_ ? write_bytes_iova(a, static_cast<const uint8_t*>(src), n) : (charge_write(n), mem_.write_bytes(a, src, n));
  }
  void barrier(ring::BarrierSite site) {
    fetched_block_ = kNoBlock;  // ordering point: later reads fetch again
    mem_.barrier(site);
  }

  memory::AgentClock& clock() { return mem_.clock(); }
  MetadataAccess mode() const { return mode_; }
  // The first access the IOTLB refused (ok if none).
  ring::RingError fault() const { return fault_; }

 private:
  bool faulted() const { return fault_ != ring::RingError::ok; }
  template <class T>
  [[gnu::noinline]] T read_iova(uint64_t a) {
    const uint64_t gpa = at(a, memory::dma_read);
    if (faulted()) return 0;
    charge_read(gpa, sizeof(T));
    if constexpr (sizeof(T) == 2) return mem_.read16(gpa);
    else if constexpr (sizeof(T) == 4) return mem_.read32(gpa);
    else return mem_.read64(gpa);
  }
  template <class T>
  [[gnu::noinline]] void write_iova(uint64_t a, T v) {
    const uint64_t gpa = at(a, memory::dma_write);
    if (faulted()) return;
    charge_write(sizeof(T));
    if constexpr (sizeof(T) == 2) mem_.write16(gpa, v);
    else if constexpr (sizeof(T) == 4) mem_.write32(gpa, v);
    else mem_.write64(gpa, v);
  }
  [[gnu::noinline]] void read_bytes_iova(uint64_t a, uint8_t* out, uint64_t n) {
    for (uint64_t done = 0; done < n;) {
      const uint64_t chunk = span(a + done, n - done);
      const uint64_t gpa = at(a + done, memory::dma_read);
      if (faulted()) return void(std::fill(out + done, out + n, uint8_t{0}));
      charge_read(gpa, chunk), mem_.read_bytes(gpa, out + done, chunk);
      done += chunk;
    }
  }
  [[gnu::noinline]] void write_bytes_iova(uint64_t a, const uint8_t* in, uint64_t n) {
    for (uint64_t done = 0; done < n;) {
      const uint64_t chunk = span(a + done, n - done);
      const uint64_t gpa = at(a + done, memory::dma_write);
      if (faulted()) return;
      charge_write(chunk), mem_.write_bytes(gpa, in + done, chunk);
      done += chunk;
    }
  }
  // The guest-physical address of IOVA `a`, charging the translation;
  // after a refused one, nothing more is translated.
  uint64_t at(uint64_t a, uint8_t perm) {
    if (faulted()) return a;
    const Translation t = iotlb_->translate(a, perm);
    mem_.clock().advance(t.cost_ns);
    fault_ = t.error;
    return t.gpa;
  }
  // Bytes of [a, a+n) up to the end of IOVA a's page.
  static uint64_t span(uint64_t a, uint64_t n) {
    return std::min(n, memory::kIovaPageBytes - a % memory::kIovaPageBytes);
  }
  void charge_read(uint64_t gpa, uint64_t n) {
    switch (mode_) {
      case MetadataAccess::direct: return;
      case MetadataAccess::uaccess: mem_.clock().advance(p_->uaccess_ns); return;
      case MetadataAccess::dma: {
        const uint64_t block = gpa / p_->dma_read_block_bytes;
        if (block == fetched_block_ && (gpa + n - 1) / p_->dma_read_block_bytes == block) return;
        fetched_block_ = n <= p_->dma_read_block_bytes ? block : kNoBlock;
        mem_.clock().advance(p_->dma_read_ns + static_cast<double>(std::max<uint64_t>(n, p_->dma_read_block_bytes)) /
                                                   p_->pcie_bytes_per_ns);
        return;
      }
    }
  }
  void charge_write(uint64_t n) {
    switch (mode_) {
      case MetadataAccess::direct: return;
      case MetadataAccess::uaccess: mem_.clock().advance(p_->uaccess_ns); return;
      case MetadataAccess::dma:
        fetched_block_ = kNoBlock;
        mem_.clock().advance(p_->dma_write_ns + static_cast<double>(n) / p_->pcie_bytes_per_ns);
        return;
    }
  }

  static constexpr uint64_t kNoBlock = ~uint64_t{0};
  uint64_t fetched_block_ = kNoBlock;

  memory::SimMemory mem_;
  MetadataAccess mode_;
  const DeviceMemoryParams* p_;
  Iotlb* iotlb_;
  ring::RingError fault_ = ring::RingError::ok;
};

static_assert(ring::MemoryPolicy<DeviceMemory>);

}  // namespace virtiosim::device
