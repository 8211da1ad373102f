#pragma once

// hiredis's asynchronous API on an Asio io_context: the shape of the adapters hiredis
// ships (/usr/include/hiredis/adapters/), its five event hooks mapped onto
// stream_descriptor::async_wait. Compiled with each engine (Asio).
//
// The descriptor waits on a dup() of the context's socket, owned by the adapter: hiredis
// closes its own descriptor when the context is freed, possibly while a wait is pending,
// and Boost 1.81's io_uring backend must not see a descriptor closed or cancelled under a
// pending operation (core/asio.hpp). When hiredis lets go (the cleanup hook), the adapter
// ends its waits with core::interrupt_socket and closes its dup only after the last
// handler has run.

#include <hiredis/async.h>

#include "core/asio.hpp"

namespace veer::limits {

// Attaches `context` (just created by redisAsyncConnect, not yet attached) to `io`.
// Every hiredis call on the context must then run on the thread running `io`.
// False when the socket cannot be duplicated; the caller frees the context.
bool attach_to_asio(redisAsyncContext* context, asio::io_context& io);

}  // namespace veer::limits
