#include "limits/bucket_array.hpp"

#include <sys/mman.h>

#include <bit>
#include <new>

namespace veer::limits::detail {

BucketArray::BucketArray(std::uint64_t min_slots) {
  const std::uint64_t wanted = min_slots / kSlotsPerBucket + (min_slots % kSlotsPerBucket != 0);
  if (wanted > (std::uint64_t{1} << 40)) throw std::bad_alloc();  // 64 TiB: a unit error
  const std::uint64_t count = std::bit_ceil(wanted < 2 ? std::uint64_t{2} : wanted);
  // An anonymous private mapping is zeroed (all slots empty) and gets physical pages only
  // when first written; MAP_NORESERVE keeps a large, mostly idle table out of the commit
  // charge.
  void* memory = mmap(nullptr, count * sizeof(Bucket), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  buckets_ = static_cast<Bucket*>(memory);
  mask_ = static_cast<std::size_t>(count - 1);
}

BucketArray::~BucketArray() {
  munmap(buckets_, bytes());
}

}  // namespace veer::limits::detail
