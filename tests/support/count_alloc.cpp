// An LD_PRELOAD shim that counts heap allocations of a whole process, for
// tests/integration/allocations_test.cpp (the "no allocation on the request path").
//
// Every malloc, calloc, realloc, memalign, posix_memalign, aligned_alloc, valloc and
// pvalloc adds one to a process-wide counter (a relaxed atomic add: the count is read
// only at a signal or at exit) and goes on to glibc's own allocator through its
// __libc_* entry points, which need no dlsym and so cannot recurse. operator new calls
// malloc, so C++ allocations are counted too. free is not counted.
//
// It also counts clock_gettime calls (what std::chrono's clocks call through libc's
// vDSO wrapper), for the "at most one clock read per loop turn".
//
// VEER_ALLOC_COUNT_FILE names a file that gets one line "ALLOCATIONS CLOCK_READS" with
// the counts so far each time the process receives SIGRTMIN+3 (veer's own signals are SIGHUP,
// SIGTERM, SIGINT, SIGQUIT, SIGUSR1 and SIGUSR2), and one more at exit. A test compares two lines
// taken around N requests of one process, so start-up and shutdown cancel out.
//
// VEER_ALLOC_TRACE=N: after the first signal, the first N counted allocations print
// their call stack to stderr (backtrace_symbols_fd; build with -fno-omit-frame-pointer
// or read the addresses with addr2line), to find where they come from.
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <dlfcn.h>

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* ptr, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void* __libc_valloc(size_t size);
void* __libc_pvalloc(size_t size);
}

namespace {

std::atomic<unsigned long> allocations{0};
std::atomic<unsigned long> clock_reads{0};
using ClockGettime = int (*)(clockid_t, timespec*);
ClockGettime next_clock_gettime = nullptr;  // libc's, found in the constructor
std::atomic<long> traces_left{0};  // > 0 only after the first signal, with VEER_ALLOC_TRACE
long trace_budget = 0;
char count_file[512];
// initial-exec: a preloaded library has static TLS, and the general model could call
// malloc (__tls_get_addr) from inside malloc.
__attribute__((tls_model("initial-exec"))) thread_local bool in_trace = false;

void trace() {
  if (traces_left.load(std::memory_order_relaxed) <= 0 || in_trace) return;
  if (traces_left.fetch_sub(1, std::memory_order_relaxed) <= 0) return;
  in_trace = true;
  void* frames[24];
  const int depth = backtrace(frames, 24);
  static const char kMark[] = "count_alloc: allocation after the first signal:\n";
  (void)!write(2, kMark, sizeof kMark - 1);
  backtrace_symbols_fd(frames, depth, 2);
  in_trace = false;
}

inline void count() {
  allocations.fetch_add(1, std::memory_order_relaxed);
  trace();
}

// Appends `value` in decimal before `end`; returns where it starts.
char* format(unsigned long value, char* end) {
  do {
    *--end = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  return end;
}

// Async-signal-safe: open, write and close only, the numbers formatted by hand.
void write_count() {
  if (count_file[0] == '\0') return;
  char text[48];
  char* end = text + sizeof text;
  *--end = '\n';
  char* p = format(clock_reads.load(std::memory_order_relaxed), end);
  *--p = ' ';
  p = format(allocations.load(std::memory_order_relaxed), p);
  const int fd = open(count_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  (void)!write(fd, p, static_cast<size_t>(text + sizeof text - p));
  close(fd);
}

void on_signal(int) {
  const int saved = errno;
  write_count();
  traces_left.store(trace_budget, std::memory_order_relaxed);
  trace_budget = 0;  // trace after the first signal only
  errno = saved;
}

__attribute__((constructor)) void start() {
  next_clock_gettime = reinterpret_cast<ClockGettime>(dlsym(RTLD_NEXT, "clock_gettime"));
  const char* file = getenv("VEER_ALLOC_COUNT_FILE");
  if (file != nullptr && strlen(file) < sizeof count_file) strcpy(count_file, file);
  const char* budget = getenv("VEER_ALLOC_TRACE");
  if (budget != nullptr) trace_budget = std::strtol(budget, nullptr, 10);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  action.sa_flags = SA_RESTART;
  sigaction(SIGRTMIN + 3, &action, nullptr);
}

__attribute__((destructor)) void finish() {
  write_count();
}

}  // namespace

extern "C" {

int clock_gettime(clockid_t clock, timespec* time) noexcept {
  clock_reads.fetch_add(1, std::memory_order_relaxed);
  if (next_clock_gettime == nullptr)  // called by a library's constructor before ours
    next_clock_gettime = reinterpret_cast<ClockGettime>(dlsym(RTLD_NEXT, "clock_gettime"));
  return next_clock_gettime(clock, time);
}

void* malloc(size_t size) noexcept {
  count();
  return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) noexcept {
  count();
  return __libc_calloc(n, size);
}

void* realloc(void* ptr, size_t size) noexcept {
  count();
  return __libc_realloc(ptr, size);
}

void* memalign(size_t alignment, size_t size) noexcept {
  count();
  return __libc_memalign(alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) noexcept {
  count();
  return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  count();
  if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void* valloc(size_t size) noexcept {
  count();
  return __libc_valloc(size);
}

void* pvalloc(size_t size) noexcept {
  count();
  return __libc_pvalloc(size);
}

}  // extern "C"
