// The one translation unit that compiles toml++'s implementation (TOML_HEADER_ONLY=0
// everywhere else), so the parser is compiled once instead of in every conf/ file.
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
