#include "limits/hiredis_asio.hpp"

#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>

namespace veer::limits {

namespace {

// One per context. The hooks get a raw pointer (hiredis's privdata); `self` keeps the
// adapter alive until hiredis calls cleanup, and each pending wait holds its own
// reference, so a completion that arrives after cleanup finds the adapter still there
// and the context gone (nullptr).
struct Adapter : std::enable_shared_from_this<Adapter> {
  Adapter(asio::io_context& io, int fd, redisAsyncContext* c) : socket(io, fd), context(c) {}

  asio::posix::stream_descriptor socket;
  redisAsyncContext* context;
  bool want_read = false;
  bool want_write = false;
  bool read_armed = false;
  bool write_armed = false;
  std::shared_ptr<Adapter> self;
};

void arm_read(Adapter& a);
void arm_write(Adapter& a);

void arm_read(Adapter& a) {
  if (a.read_armed || a.context == nullptr) return;
  a.read_armed = true;
  a.socket.async_wait(asio::posix::stream_descriptor::wait_read,
                      [s = a.shared_from_this()](const error_code& ec) {
                        s->read_armed = false;
                        if (ec || s->context == nullptr || !s->want_read) return;
                        redisAsyncHandleRead(s->context);  // may free the context
                        if (s->context != nullptr && s->want_read) arm_read(*s);
                      });
}

void arm_write(Adapter& a) {
  if (a.write_armed || a.context == nullptr) return;
  a.write_armed = true;
  a.socket.async_wait(asio::posix::stream_descriptor::wait_write,
                      [s = a.shared_from_this()](const error_code& ec) {
                        s->write_armed = false;
                        if (ec || s->context == nullptr || !s->want_write) return;
                        redisAsyncHandleWrite(s->context);  // may free the context
                        if (s->context != nullptr && s->want_write) arm_write(*s);
                      });
}

// The hooks must be idempotent (async.h): a wait already pending is not doubled, and a
// "del" only stops re-arming (a wait that completes unwanted is ignored).
void add_read(void* p) {
  auto& a = *static_cast<Adapter*>(p);
  a.want_read = true;
  arm_read(a);
}
void del_read(void* p) {
  static_cast<Adapter*>(p)->want_read = false;
}
void add_write(void* p) {
  auto& a = *static_cast<Adapter*>(p);
  a.want_write = true;
  arm_write(a);
}
void del_write(void* p) {
  static_cast<Adapter*>(p)->want_write = false;
}

void cleanup(void* p) {
  auto& a = *static_cast<Adapter*>(p);
  a.context = nullptr;
  a.want_read = a.want_write = false;
  core::interrupt_socket(a.socket);  // pending waits complete; the dup closes with the last
  a.self.reset();                    // (this may be the last reference: touch nothing after)
}

}  // namespace

bool attach_to_asio(redisAsyncContext* context, asio::io_context& io) {
  if (context->ev.data != nullptr) return false;
  const int fd = ::dup(context->c.fd);
  if (fd < 0) return false;
  auto adapter = std::make_shared<Adapter>(io, fd, context);
  adapter->self = adapter;
  context->ev.data = adapter.get();
  context->ev.addRead = add_read;
  context->ev.delRead = del_read;
  context->ev.addWrite = add_write;
  context->ev.delWrite = del_write;
  context->ev.cleanup = cleanup;
  return true;
}

}  // namespace veer::limits
