// Fuzz targets never reach outside the machine: a backend address the fuzzer invents
// ("evil.example:80") would make conf's getaddrinfo ask the network's DNS, slowly and
// for nothing. This getaddrinfo, linked into each fuzz binary, takes the place of libc's
// and resolves numeric addresses only; other names fail as an unknown host does.
#include <dlfcn.h>
#include <netdb.h>

extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                           addrinfo** result) {
  using Fn = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "getaddrinfo"));
  addrinfo numeric{};
  if (hints != nullptr) numeric = *hints;
  numeric.ai_flags |= AI_NUMERICHOST;
  return real(node, service, &numeric, result);
}
