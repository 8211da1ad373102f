#include "proxy/uring_socket.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <vector>

namespace veer::proxy::uring {
namespace {

// Unread chunks beyond which the receive is cancelled until the owner reads: with 4 KiB
// buffers a connection whose reader is busy (writing the other side) holds at most
// about 16 KiB of the ring's buffers, plus what one burst of completions adds.
constexpr std::size_t kMaxQueuedChunks = 4;
constexpr std::size_t kInlineChunks = 8;
// Spare write sides a thread keeps (about 450 bytes each): enough for the writes of a
// busy worker at once; past a burst above it, the extra ones are freed.
constexpr std::size_t kMaxSpareWriteSides = 1024;

error_code from_errno(int error) {
  if (error == ECANCELED) return asio::error::operation_aborted;
  return error_code(error, asio::error::get_system_category());
}

struct Chunk {
  std::uint16_t id;
  std::uint32_t offset;
  std::uint32_t length;
};

}  // namespace

// The socket's state, apart from its handle so that it can outlive the handle while an
// operation is in the kernel (see the header).
class SocketState final : public BufferWaiter, public Orphan {
 public:
  SocketState(Ring& ring, asio::io_context& io) : ring_(ring), io_(io) {}
  ~SocketState() {
    if (orphaned_) ring_.release(*this);
    if (fd_ >= 0) ::close(fd_);
  }

  int fd() const { return fd_; }
  void set_fd(int fd) { fd_ = fd; }
  Socket::Handler& reader() { return reader_; }
  Socket::Handler& writer() { return write_side().writer; }
  std::size_t unread() const;
  bool readable() const { return chunk_count() > 0 || eof_ || read_errno_ != 0; }

  void start_read(char* data, std::size_t size);
  std::size_t read_now(char* data, std::size_t size, error_code& ec);
  void start_write(const iovec* pieces, std::size_t count);
  void start_poll_writable();
  void start_connect(const tcp::endpoint& peer);
  void cancel();
  // The handle lets go: cancels what is in flight and frees itself after the last
  // completion (the descriptor closes then).
  void orphan(std::unique_ptr<SocketState> self);

 private:
  enum class WriteKind : std::uint8_t { none, send, poll, connect };
  struct ReceiveOp final : Operation {
    explicit ReceiveOp(SocketState& s) : state(s) {}
    void on_completion(int result, std::uint32_t flags) override {
      state.on_receive(result, flags);
    }
    SocketState& state;
  };
  struct WriteOp final : Operation {
    void on_completion(int result, std::uint32_t) override { state->on_write(result); }
    SocketState* state = nullptr;
  };
  // What only a writing socket needs: taken for a write, wait or connect and put back
  // when its handler has run, so a connection between writes (an idle one) holds none.
  // Spares stay with the thread for the next socket that writes: once warm, taking one
  // allocates nothing.
  struct WriteSide {
    Socket::Handler writer;
    WriteOp op;
    msghdr message{};
    iovec pieces[Socket::kMaxWriteBuffers]{};
    std::size_t written = 0;
    std::size_t total = 0;
    sockaddr_storage peer{};
    WriteKind kind = WriteKind::none;
  };

  void arm_receive();
  void stop_receive();
  void on_receive(int result, std::uint32_t flags);
  void keep_chunk(std::uint16_t id, std::uint32_t length);
  std::size_t chunk_count() const { return inline_count_ + spill_.size(); }
  Chunk& front_chunk() { return inline_[inline_head_]; }
  void pop_chunk();
  void drop_chunks();
  void deliver();
  void post_delivery();
  bool waiting_for_buffers() const { return waiting(); }
  void post_write_failure(error_code ec);
  void submit_write();
  void on_write(int result);
  WriteSide& write_side();
  void put_back_write_side();
  static std::vector<std::unique_ptr<WriteSide>>& spare_write_sides();
  void buffers_available() override;
  void release_if_done();
  void abandon() override { self_.reset(); }  // the ring is going: free, whatever is pending

  // Held by every entry from outside (a completion, a posted handler): a handler run from
  // inside may close the socket, and the state must outlive the call that ran it.
  struct InCallback {
    explicit InCallback(SocketState& s) : state(s) { ++state.callbacks_; }
    ~InCallback() {
      if (--state.callbacks_ == 0) state.release_if_done();  // may free the state: last
    }
    SocketState& state;
  };

  Ring& ring_;
  asio::io_context& io_;
  int fd_ = -1;
  unsigned pending_ = 0;  // operations in the kernel and deliveries posted
  bool orphaned_ = false;
  unsigned callbacks_ = 0;             // InCallback depth
  std::unique_ptr<SocketState> self_;  // while orphaned

  ReceiveOp receive_op_{*this};
  bool receive_armed_ = false;
  bool receive_cancelled_ = false;
  bool eof_ = false;
  int read_errno_ = 0;
  Chunk inline_[kInlineChunks]{};
  std::uint8_t inline_head_ = 0;
  std::uint8_t inline_count_ = 0;
  std::vector<Chunk> spill_;  // a burst past the inline queue; empty (no memory) otherwise

  Socket::Handler reader_;
  char* read_data_ = nullptr;  // null: the reader only waits for readability
  std::size_t read_size_ = 0;
  bool reader_waiting_ = false;
  bool reader_aborted_ = false;
  bool delivery_posted_ = false;

  std::unique_ptr<WriteSide> write_;  // while writing, waiting for writability or connecting
};

// --- receiving -----------------------------------------------------------------------

void SocketState::arm_receive() {
  if (receive_armed_ || fd_ < 0 || orphaned_) return;
  io_uring_sqe* sqe = ring_.prepare(&receive_op_);
  io_uring_prep_recv_multishot(sqe, fd_, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = ring_.buffer_group();
  receive_armed_ = true;
  receive_cancelled_ = false;
  ++pending_;
}

void SocketState::stop_receive() {
  if (!receive_armed_ || receive_cancelled_) return;
  io_uring_sqe* sqe = ring_.prepare(nullptr);
  io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(&receive_op_), 0);
  receive_cancelled_ = true;
}

void SocketState::on_receive(int result, std::uint32_t flags) {
  const InCallback guard(*this);
  if ((flags & IORING_CQE_F_MORE) == 0) {
    receive_armed_ = false;
    --pending_;
  }
  if ((flags & IORING_CQE_F_BUFFER) != 0) {
    const auto id = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    ring_.took_buffer();
    if (result > 0 && !orphaned_)
      keep_chunk(id, static_cast<std::uint32_t>(result));
    else
      ring_.recycle(id);
  }
  if (result == 0) {
    eof_ = true;
  } else if (result == -ENOBUFS) {
    if (!orphaned_) ring_.wait_for_buffers(*this);
  } else if (result < 0 && result != -ECANCELED) {
    read_errno_ = -result;
  }
  if (orphaned_) return;
  if (reader_waiting_ && readable()) deliver();
  if (orphaned_) return;  // the reader closed the socket
  if (receive_armed_ && chunk_count() >= kMaxQueuedChunks) stop_receive();
  if (!receive_armed_ && reader_waiting_ && !readable() && result != -ENOBUFS) arm_receive();
}

void SocketState::keep_chunk(std::uint16_t id, std::uint32_t length) {
  if (spill_.empty() && inline_count_ < kInlineChunks) {
    inline_[(inline_head_ + inline_count_) % kInlineChunks] = Chunk{id, 0, length};
    ++inline_count_;
    return;
  }
  spill_.push_back(Chunk{id, 0, length});
}

void SocketState::pop_chunk() {
  ring_.recycle(front_chunk().id);
  inline_head_ = static_cast<std::uint8_t>((inline_head_ + 1) % kInlineChunks);
  --inline_count_;
  if (inline_count_ == 0 && !spill_.empty()) {
    // Move what spilled back into the inline queue, oldest first.
    std::size_t moved = 0;
    inline_head_ = 0;
    while (moved < spill_.size() && inline_count_ < kInlineChunks)
      inline_[inline_count_++] = spill_[moved++];
    spill_.erase(spill_.begin(), spill_.begin() + static_cast<std::ptrdiff_t>(moved));
  }
}

void SocketState::drop_chunks() {
  while (chunk_count() > 0)
    pop_chunk();
}

std::size_t SocketState::unread() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < inline_count_; ++i)
    total += inline_[(inline_head_ + i) % kInlineChunks].length;
  for (const Chunk& c : spill_)
    total += c.length;
  return total;
}

std::size_t SocketState::read_now(char* data, std::size_t size, error_code& ec) {
  ec = {};
  std::size_t copied = 0;
  while (copied < size && chunk_count() > 0) {
    Chunk& chunk = front_chunk();
    const std::size_t n = std::min<std::size_t>(size - copied, chunk.length);
    std::memcpy(data + copied, ring_.buffer(chunk.id) + chunk.offset, n);
    copied += n;
    chunk.offset += static_cast<std::uint32_t>(n);
    chunk.length -= static_cast<std::uint32_t>(n);
    if (chunk.length == 0) pop_chunk();
  }
  if (copied > 0) return copied;
  if (size == 0 && chunk_count() > 0) return 0;
  if (eof_)
    ec = asio::error::eof;
  else if (read_errno_ != 0)
    ec = from_errno(read_errno_);
  else if (fd_ < 0)
    ec = asio::error::bad_descriptor;
  else
    ec = asio::error::would_block;
  return 0;
}

void SocketState::start_read(char* data, std::size_t size) {
  assert(!reader_waiting_);
  reader_waiting_ = true;
  reader_aborted_ = false;
  read_data_ = data;
  read_size_ = size;
  if (readable() || fd_ < 0) {
    post_delivery();
    return;
  }
  if (!waiting_for_buffers()) arm_receive();
}

// Runs the reader's handler with what is there (never from inside the initiating call).
void SocketState::deliver() {
  reader_waiting_ = false;
  if (reader_aborted_) {
    reader_(asio::error::operation_aborted, 0);
    return;
  }
  error_code ec;
  std::size_t n = 0;
  if (read_data_ != nullptr) {
    n = read_now(read_data_, read_size_, ec);
  } else if (fd_ < 0) {
    ec = asio::error::bad_descriptor;
  }
  reader_(ec, n);
}

void SocketState::post_delivery() {
  if (delivery_posted_) return;
  delivery_posted_ = true;
  ++pending_;
  asio::post(io_, [this] {
    const InCallback guard(*this);
    delivery_posted_ = false;
    --pending_;
    if (reader_waiting_ && (readable() || reader_aborted_ || fd_ < 0 || orphaned_)) deliver();
  });
}

void SocketState::buffers_available() {
  if (!orphaned_ && reader_waiting_ && !readable()) arm_receive();
}

// --- writing -------------------------------------------------------------------------

std::vector<std::unique_ptr<SocketState::WriteSide>>& SocketState::spare_write_sides() {
  thread_local std::vector<std::unique_ptr<WriteSide>> spares;  // a ring's sockets: one thread
  return spares;
}

SocketState::WriteSide& SocketState::write_side() {
  if (!write_) {
    auto& spares = spare_write_sides();
    if (spares.empty()) {
      write_ = std::make_unique<WriteSide>();
    } else {
      write_ = std::move(spares.back());
      spares.pop_back();
    }
    write_->op.state = this;
  }
  return *write_;
}

void SocketState::put_back_write_side() {
  if (!write_ || write_->kind != WriteKind::none || write_->writer || orphaned_) return;
  auto& spares = spare_write_sides();
  if (spares.size() < kMaxSpareWriteSides) spares.push_back(std::move(write_));
  write_.reset();
}

void SocketState::start_write(const iovec* pieces, std::size_t count) {
  WriteSide& w = write_side();
  assert(w.kind == WriteKind::none);
  if (count > Socket::kMaxWriteBuffers || fd_ < 0) {
    post_write_failure(count > Socket::kMaxWriteBuffers ? asio::error::invalid_argument
                                                        : asio::error::bad_descriptor);
    return;
  }
  w.kind = WriteKind::send;
  w.written = 0;
  w.total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    w.pieces[i] = pieces[i];
    w.total += pieces[i].iov_len;
  }
  w.message = msghdr{};
  w.message.msg_iov = w.pieces;
  w.message.msg_iovlen = count;
  submit_write();
}

// A write, wait or connect that cannot start completes with `ec`, posted.
void SocketState::post_write_failure(error_code ec) {
  write_side().kind = WriteKind::send;
  ++pending_;
  asio::post(io_, [this, ec] {
    const InCallback guard(*this);
    --pending_;
    write_->kind = WriteKind::none;
    write_->writer(ec, 0);
    put_back_write_side();
  });
}

// One piece goes as a SEND, which spares the kernel copying and checking a msghdr.
void SocketState::submit_write() {
  io_uring_sqe* sqe = ring_.prepare(&write_->op);
  const msghdr& m = write_->message;
  if (m.msg_iovlen == 1)
    io_uring_prep_send(sqe, fd_, m.msg_iov->iov_base, m.msg_iov->iov_len, MSG_NOSIGNAL);
  else
    io_uring_prep_sendmsg(sqe, fd_, &m, MSG_NOSIGNAL);
  ++pending_;
}

void SocketState::start_poll_writable() {
  WriteSide& w = write_side();
  assert(w.kind == WriteKind::none);
  if (fd_ < 0) {
    post_write_failure(asio::error::bad_descriptor);
    return;
  }
  w.kind = WriteKind::poll;
  io_uring_sqe* sqe = ring_.prepare(&w.op);
  io_uring_prep_poll_add(sqe, fd_, POLLOUT);
  ++pending_;
}

void SocketState::start_connect(const tcp::endpoint& peer) {
  WriteSide& w = write_side();
  assert(w.kind == WriteKind::none);
  if (fd_ < 0) {
    fd_ = ::socket(peer.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd_ < 0) {
      post_write_failure(from_errno(errno));
      return;
    }
  }
  w.kind = WriteKind::connect;
  std::memcpy(&w.peer, peer.data(), peer.size());
  io_uring_sqe* sqe = ring_.prepare(&w.op);
  io_uring_prep_connect(sqe, fd_, reinterpret_cast<const sockaddr*>(&w.peer),
                        static_cast<socklen_t>(peer.size()));
  ++pending_;
}

void SocketState::on_write(int result) {
  const InCallback guard(*this);
  --pending_;
  WriteSide& w = *write_;
  if (w.kind == WriteKind::send && result > 0 && !orphaned_) {
    w.written += static_cast<std::size_t>(result);
    if (w.written < w.total) {  // a partial send: go on from where it stopped
      std::size_t skip = static_cast<std::size_t>(result);
      while (skip > 0 && skip >= w.message.msg_iov->iov_len) {
        skip -= w.message.msg_iov->iov_len;
        ++w.message.msg_iov;
        --w.message.msg_iovlen;
      }
      w.message.msg_iov->iov_base = static_cast<char*>(w.message.msg_iov->iov_base) + skip;
      w.message.msg_iov->iov_len -= skip;
      submit_write();
      return;
    }
  }
  const WriteKind kind = w.kind;
  w.kind = WriteKind::none;
  error_code ec = result < 0 ? from_errno(-result) : error_code{};
  // Closed with a send half done: the rest will never go (as Asio says after close()).
  if (orphaned_ && !ec && kind == WriteKind::send && w.written < w.total)
    ec = asio::error::operation_aborted;
  // After close() too: the handler may hold what waits for it (a session's reference).
  w.writer(ec, kind == WriteKind::send && !ec ? w.total : 0);
  put_back_write_side();
}

// --- ending --------------------------------------------------------------------------

void SocketState::cancel() {
  if (reader_waiting_) {
    reader_aborted_ = true;
    post_delivery();
  }
  if (write_ && write_->kind != WriteKind::none) {
    io_uring_sqe* sqe = ring_.prepare(nullptr);
    io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(&write_->op), 0);
  }
}

void SocketState::orphan(std::unique_ptr<SocketState> self) {
  orphaned_ = true;
  self_ = std::move(self);
  ring_.adopt(*this);
  cancel();
  stop_receive();
  ring_.forget(*this);
  drop_chunks();
  release_if_done();
}

void SocketState::release_if_done() {
  if (!orphaned_ || pending_ > 0 || callbacks_ > 0) return;
  std::unique_ptr<SocketState> doomed = std::move(self_);  // destroys this, last
}

// --- the handle ----------------------------------------------------------------------

Socket::Socket(asio::io_context& io) : io_(&io) {}

Socket::Socket(Socket&& other) noexcept : io_(other.io_), state_(std::move(other.state_)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    error_code ignored;
    close(ignored);
    io_ = other.io_;
    state_ = std::move(other.state_);
  }
  return *this;
}

Socket::~Socket() {
  error_code ignored;
  close(ignored);
}

bool Socket::is_open() const {
  return state_ && state_->fd() >= 0;
}

int Socket::native_handle() const {
  return state_ ? state_->fd() : -1;
}

void Socket::assign(const tcp&, int fd, error_code& ec) {
  if (is_open()) {
    ec = asio::error::already_open;
    return;
  }
  if (!state_) state_ = std::make_unique<SocketState>(Ring::of(*io_), *io_);
  state_->set_fd(fd);
  ec = {};
}

void Socket::close(error_code& ec) {
  ec = {};
  if (!state_) return;
  SocketState* state = state_.get();
  state->orphan(std::move(state_));
}

void Socket::cancel(error_code& ec) {
  ec = {};
  if (state_) state_->cancel();
}

void Socket::shutdown(tcp::socket::shutdown_type what, error_code& ec) {
  ec = {};
  const int how = what == tcp::socket::shutdown_send      ? SHUT_WR
                  : what == tcp::socket::shutdown_receive ? SHUT_RD
                                                          : SHUT_RDWR;
  if (::shutdown(native_handle(), how) != 0) ec = from_errno(errno);
}

tcp::endpoint Socket::local_endpoint(error_code& ec) const {
  tcp::endpoint endpoint;
  socklen_t length = static_cast<socklen_t>(endpoint.capacity());
  ec = {};
  if (::getsockname(native_handle(), endpoint.data(), &length) != 0) {
    ec = from_errno(errno);
    return {};
  }
  endpoint.resize(length);
  return endpoint;
}

error_code Socket::set_option_raw(int level, int name, const void* data, socklen_t size) {
  if (::setsockopt(native_handle(), level, name, data, size) != 0) return from_errno(errno);
  return {};
}

std::size_t Socket::read_some(asio::mutable_buffer buffer, error_code& ec) {
  if (!state_) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  return state_->read_now(static_cast<char*>(buffer.data()), buffer.size(), ec);
}

std::size_t Socket::write_some(asio::const_buffer buffer, error_code& ec) {
  const ssize_t n =
      ::send(native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) {
    ec = errno == EAGAIN || errno == EWOULDBLOCK ? error_code(asio::error::would_block)
                                                 : from_errno(errno);
    return 0;
  }
  ec = {};
  return static_cast<std::size_t>(n);
}

std::size_t Socket::unread_bytes() const {
  return state_ ? state_->unread() : 0;
}

bool Socket::received_something() const {
  return state_ && state_->readable();
}

Socket::Handler& Socket::read_slot() {
  if (!state_) state_ = std::make_unique<SocketState>(Ring::of(*io_), *io_);
  return state_->reader();
}

Socket::Handler& Socket::write_slot() {
  if (!state_) state_ = std::make_unique<SocketState>(Ring::of(*io_), *io_);
  return state_->writer();
}

void Socket::start_read(char* data, std::size_t size) {
  state_->start_read(data, size);
}

void Socket::start_wait_writable() {
  state_->start_poll_writable();
}

void Socket::start_write(const iovec* pieces, std::size_t count) {
  state_->start_write(pieces, count);
}

void Socket::start_connect(const tcp::endpoint& peer) {
  state_->start_connect(peer);
}

}  // namespace veer::proxy::uring
