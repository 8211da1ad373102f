#include "proxy/jsonrpc_ws_book.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <optional>

namespace veer::proxy::jsonrpc_ws {
namespace json = boost::json;

namespace {

std::optional<std::uint64_t> hex_number(const json::value* v) {
  if (v == nullptr || !v->is_string()) return std::nullopt;
  const json::string& s = v->get_string();
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), n, 16);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return n;
}

std::string hex(std::uint64_t n) {
  char digits[16];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n, 16);
  return "0x" + std::string(digits, end);
}

std::string_view text_of(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::string result_answer(const json::value& id, json::value result) {
  json::object o;
  o["jsonrpc"] = "2.0";
  o["id"] = id;
  o["result"] = std::move(result);
  return json::serialize(o);
}

}  // namespace

Kind kind_of(std::string_view name) {
  if (name == "newHeads") return Kind::new_heads;
  if (name == "logs") return Kind::logs;
  if (name == "newPendingTransactions") return Kind::new_pending_transactions;
  if (name == "syncing") return Kind::syncing;
  return Kind::unknown;
}

std::string error_answer(const json::value& id, int code, std::string_view message) {
  json::object o;
  o["jsonrpc"] = "2.0";
  o["id"] = id;
  o["error"] = json::object{{"code", code}, {"message", message}};
  return json::serialize(o);
}

struct Book::Sub {
  std::string client_id;
  std::string node_id;  // "" while not (yet) issued on the current node
  Kind kind = Kind::unknown;
  json::array params;  // of the client's eth_subscribe
  // A failover's gap is being filled: the new node's notifications wait in `held`.
  bool syncing = false;
  std::deque<json::value> held;
  std::uint32_t fills_pending = 0;
  std::map<std::uint64_t, json::value> filled;  // newHeads: gap blocks by height
  // newHeads: the last head delivered.
  bool have_head = false;
  std::uint64_t head = 0;
  std::string head_hash;
  // logs: the highest block delivered, and the logs delivered per recent height.
  struct Delivered {
    std::string block_hash;
    std::string log_index;
    json::object log;
  };
  std::uint64_t log_block = 0;
  std::map<std::uint64_t, std::vector<Delivered>> recent;
};

struct Book::Pending {
  enum class Purpose : std::uint8_t {
    client_call,       // the client's own call: answer with its id
    client_subscribe,  // the client's eth_subscribe
    client_unsubscribe,
    resubscribe,   // issued again after a failover
    block_number,  // newHeads gap: the new node's head
    gap_block,     // newHeads gap: one height
    gap_logs,      // logs gap
  };
  Purpose purpose = Purpose::client_call;
  json::value client_id;  // the client's call id
  ReplyTo to;             // where its answer goes (client purposes)
  std::string sub;        // client subscription id (subscribe: its kind name)
  json::array params;     // client_subscribe: the params
  std::uint64_t height = 0;
};

Book::Book(std::uint32_t max_subscriptions, std::uint64_t seed, std::uint32_t max_pending)
    : max_subscriptions_(max_subscriptions), max_pending_(max_pending), random_(seed) {}
Book::~Book() = default;

std::string Book::new_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "0x";
  while (true) {
    id.resize(2);
    for (int half = 0; half < 2; ++half) {
      std::uint64_t bits = random_();
      for (int i = 0; i < 16; ++i, bits >>= 4)
        id.push_back(kHex[bits & 15]);
    }
    if (!subs_.contains(id)) return id;
  }
}

Book::Sub* Book::by_node_id(std::string_view id) {
  const auto it = node_ids_.find(std::string(id));
  if (it == node_ids_.end()) return nullptr;
  const auto sub = subs_.find(it->second);
  return sub == subs_.end() ? nullptr : sub->second.get();
}

bool Book::resyncing() const {
  return std::ranges::any_of(subs_, [](const auto& s) { return s.second->syncing; });
}

std::uint64_t Book::send(std::string_view method, json::value params, Out& out) {
  const std::uint64_t id = next_call_++;
  json::object o;
  o["jsonrpc"] = "2.0";
  o["id"] = id;
  o["method"] = method;
  o["params"] = std::move(params);
  out.to_node.push_back(json::serialize(o));
  return id;
}

void Book::from_client(std::string_view text, Out& out) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    out.to_client.push_back(error_answer(nullptr, -32700, "parse error"));
    return;
  }
  if (v.is_array()) {  // a batch: each call on its own, the answers in one array
    if (v.get_array().empty()) {
      out.to_client.push_back(error_answer(nullptr, -32600, "empty batch"));
      return;
    }
    const ReplyTo batch{next_batch_++, 0};
    batches_.emplace(batch.batch, Batch{});
    for (json::value& item : v.get_array()) {
      if (item.is_object()) {
        client_call(item.get_object(), batch, out);
      } else {
        reply(reserve(batch), error_answer(nullptr, -32600, "invalid request"), out);
      }
    }
    batches_[batch.batch].open = false;
    finish_batch(batch.batch, out);
    return;
  }
  if (!v.is_object()) {
    out.to_client.push_back(error_answer(nullptr, -32600, "invalid request"));
    return;
  }
  client_call(v.get_object(), ReplyTo{}, out);
}

// A call that will be answered takes the next slot of its batch.
Book::ReplyTo Book::reserve(ReplyTo to) {
  if (to.batch == 0) return to;
  Batch& batch = batches_[to.batch];
  to.slot = batch.answers.size();
  batch.answers.emplace_back();
  ++batch.missing;
  return to;
}

void Book::reply(const ReplyTo& to, std::string text, Out& out) {
  if (to.batch == 0) {
    out.to_client.push_back(std::move(text));
    return;
  }
  const auto it = batches_.find(to.batch);
  if (it == batches_.end()) return;
  it->second.answers[to.slot] = std::move(text);
  --it->second.missing;
  finish_batch(to.batch, out);
}

void Book::finish_batch(std::uint64_t batch, Out& out) {
  const auto it = batches_.find(batch);
  if (it == batches_.end() || it->second.open || it->second.missing > 0) return;
  if (!it->second.answers.empty()) {
    std::string array = "[";
    for (const std::string& answer : it->second.answers) {
      if (array.size() > 1) array += ',';
      array += answer;
    }
    array += ']';
    out.to_client.push_back(std::move(array));
  }
  batches_.erase(it);
}

void Book::client_call(json::object& call, ReplyTo to, Out& out) {
  const std::string_view method = text_of(call.if_contains("method"));
  json::value* id = call.if_contains("id");
  Verdict verdict;
  if (policy_) verdict = policy_(json::serialize(call));
  if (id == nullptr) {  // a notification: nothing comes back
    if (verdict.kind == Verdict::Kind::forward) out.to_node.push_back(json::serialize(call));
    return;
  }
  to = reserve(to);
  if (verdict.kind != Verdict::Kind::forward) {
    // The policy answers what it keeps (a dropped call with an id cannot be silent).
    reply(to,
          verdict.kind == Verdict::Kind::answer
              ? std::move(verdict.answer)
              : error_answer(*id, -32601, "method not allowed: " + std::string(method)),
          out);
    return;
  }
  if (client_pending_ >= max_pending_) {
    reply(to,
          error_answer(*id, -32005,
                       "too many calls in flight on this connection (max " +
                           std::to_string(max_pending_) + ")"),
          out);
    return;
  }
  Pending p;
  p.client_id = *id;
  p.to = to;
  json::value* params = call.if_contains("params");
  if (method == "eth_subscribe") {
    if (subs_.size() + subscribes_in_flight_ >= max_subscriptions_) {
      reply(to,
            error_answer(*id, -32005,
                         "too many subscriptions on this connection (max_subscriptions " +
                             std::to_string(max_subscriptions_) + ")"),
            out);
      return;
    }
    p.purpose = Pending::Purpose::client_subscribe;
    if (params != nullptr && params->is_array()) p.params = params->get_array();
    ++subscribes_in_flight_;
  } else if (method == "eth_unsubscribe") {
    const std::string_view client_sub =
        params != nullptr && params->is_array() && !params->get_array().empty()
            ? text_of(&params->get_array()[0])
            : std::string_view();
    const auto it = subs_.find(client_sub);
    if (it == subs_.end() || it->second->node_id.empty()) {
      // Unknown, or not issued on the current node yet: nothing to ask the node.
      const bool known = it != subs_.end();
      if (known) subs_.erase(it);
      reply(to, result_answer(*id, known), out);
      return;
    }
    p.purpose = Pending::Purpose::client_unsubscribe;
    p.sub = it->first;
    params->get_array()[0] = it->second->node_id;
  }
  const std::uint64_t ours = next_call_++;
  call["id"] = ours;
  pending_.emplace(ours, std::move(p));
  ++client_pending_;
  out.to_node.push_back(json::serialize(call));
}

void Book::from_node(std::string_view text, Out& out) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return;  // a node's garbage is not the client's business
  if (v.is_array()) {
    for (json::value& item : v.get_array())
      if (item.is_object()) node_answer(item.get_object(), out);
    return;
  }
  if (!v.is_object()) return;
  json::object& o = v.get_object();
  if (text_of(o.if_contains("method")) == "eth_subscription") {
    notification(o, out);
    return;
  }
  node_answer(o, out);
}

void Book::node_answer(json::object& answer, Out& out) {
  const json::value* id = answer.if_contains("id");
  if (id == nullptr || !id->is_number()) return;
  json::error_code ec;
  const auto ours = id->to_number<std::uint64_t>(ec);
  if (ec) return;
  const auto it = pending_.find(ours);
  if (it == pending_.end()) return;  // a call of a node that is gone
  Pending p = std::move(it->second);
  pending_.erase(it);
  switch (p.purpose) {
    case Pending::Purpose::client_call:
      --client_pending_;
      break;
    case Pending::Purpose::client_subscribe: {
      --client_pending_;
      --subscribes_in_flight_;
      json::value* result = answer.if_contains("result");
      if (result != nullptr && result->is_string()) {
        auto sub = std::make_unique<Sub>();
        sub->client_id = new_id();
        sub->node_id = std::string(result->get_string());
        sub->params = std::move(p.params);
        sub->kind = sub->params.empty() ? Kind::unknown : kind_of(text_of(&sub->params[0]));
        node_ids_[sub->node_id] = sub->client_id;
        *result = sub->client_id;
        subs_.emplace(sub->client_id, std::move(sub));
      }
      break;
    }
    case Pending::Purpose::client_unsubscribe:
      --client_pending_;
      if (const auto sub = subs_.find(p.sub); sub != subs_.end()) {
        node_ids_.erase(sub->second->node_id);
        subs_.erase(sub);
      }
      break;
    default:
      answered_internal(p, answer, out);
      return;
  }
  answer["id"] = p.client_id;
  reply(p.to, json::serialize(answer), out);
}

void Book::notification(json::object& message, Out& out) {
  json::value* params = message.if_contains("params");
  if (params == nullptr || !params->is_object()) return;
  Sub* sub = by_node_id(text_of(params->get_object().if_contains("subscription")));
  json::value* result = params->get_object().if_contains("result");
  if (sub == nullptr || result == nullptr) return;
  if (sub->syncing) {
    sub->held.push_back(std::move(*result));
    return;
  }
  deliver(*sub, std::move(*result), out);
}

bool Book::node_lost(Out& out) {
  for (auto& [ours, p] : pending_) {
    switch (p.purpose) {
      case Pending::Purpose::client_call:
      case Pending::Purpose::client_subscribe:
        reply(p.to, error_answer(p.client_id, -32603, "the backend connection was lost; try again"),
              out);
        break;
      case Pending::Purpose::client_unsubscribe:
        subs_.erase(p.sub);  // nothing to unsubscribe from any more
        reply(p.to, result_answer(p.client_id, true), out);
        break;
      default:
        break;
    }
  }
  pending_.clear();
  client_pending_ = 0;
  subscribes_in_flight_ = 0;
  node_ids_.clear();
  bool known = true;
  for (auto& [id, sub] : subs_) {
    sub->node_id.clear();
    sub->syncing = false;
    sub->fills_pending = 0;
    sub->filled.clear();
    // Notifications held during an unfinished gap fill are dropped; the next fill
    // starts from the last delivered block and covers them.
    sub->held.clear();
    if (sub->kind == Kind::unknown) known = false;
  }
  return known;
}

void Book::node_connected(Out& out) {
  for (auto& [id, sub] : subs_) {
    Pending p;
    p.purpose = Pending::Purpose::resubscribe;
    p.sub = id;
    sub->syncing = true;
    pending_.emplace(send("eth_subscribe", sub->params, out), std::move(p));
  }
}

void Book::answered_internal(const Pending& p, json::object& answer, Out& out) {
  const auto it = subs_.find(p.sub);
  if (it == subs_.end()) return;  // unsubscribed meanwhile
  Sub& sub = *it->second;
  json::value* result = answer.if_contains("result");
  switch (p.purpose) {
    case Pending::Purpose::resubscribe:
      if (result == nullptr || !result->is_string()) {
        failed_ = "a subscription could not be issued again on another backend";
        return;
      }
      ++counters_.resubscribes;
      sub.node_id = std::string(result->get_string());
      node_ids_[sub.node_id] = sub.client_id;
      start_gap_fill(sub, out);
      return;
    case Pending::Purpose::block_number: {
      const std::optional<std::uint64_t> head = hex_number(result);
      if (head && *head > sub.head) {
        const std::uint64_t last = std::min(*head, sub.head + kMaxGapBlocks);
        for (std::uint64_t h = sub.head + 1; h <= last; ++h) {
          Pending fill;
          fill.purpose = Pending::Purpose::gap_block;
          fill.sub = sub.client_id;
          fill.height = h;
          pending_.emplace(send("eth_getBlockByNumber", json::array{hex(h), false}, out),
                           std::move(fill));
          ++sub.fills_pending;
        }
      }
      if (sub.fills_pending == 0) finish_sync(sub, out);
      return;
    }
    case Pending::Purpose::gap_block:
      if (result != nullptr && result->is_object()) sub.filled[p.height] = std::move(*result);
      if (--sub.fills_pending == 0) {
        for (auto& [height, block] : sub.filled) {
          ++counters_.gap_filled_blocks;
          deliver_head(sub, std::move(block), out);
        }
        sub.filled.clear();
        finish_sync(sub, out);
      }
      return;
    case Pending::Purpose::gap_logs:
      if (result != nullptr && result->is_array()) {
        std::vector<json::object> logs;
        for (json::value& log : result->get_array())
          if (log.is_object()) logs.push_back(std::move(log.get_object()));
        std::ranges::stable_sort(logs, [](const json::object& a, const json::object& b) {
          const auto key = [](const json::object& o) {
            return std::pair(hex_number(o.if_contains("blockNumber")).value_or(0),
                             hex_number(o.if_contains("logIndex")).value_or(0));
          };
          return key(a) < key(b);
        });
        for (json::object& log : logs)
          deliver_log(sub, std::move(log), out);
      }
      finish_sync(sub, out);
      return;
    default:
      return;
  }
}

void Book::start_gap_fill(Sub& sub, Out& out) {
  Pending p;
  p.sub = sub.client_id;
  if (sub.kind == Kind::new_heads && sub.have_head) {
    p.purpose = Pending::Purpose::block_number;
    pending_.emplace(send("eth_blockNumber", json::array{}, out), std::move(p));
    return;
  }
  if (sub.kind == Kind::logs && sub.log_block > 0) {
    json::object filter;
    if (sub.params.size() > 1 && sub.params[1].is_object()) {
      const json::object& original = sub.params[1].get_object();
      if (const json::value* a = original.if_contains("address")) filter["address"] = *a;
      if (const json::value* t = original.if_contains("topics")) filter["topics"] = *t;
    }
    filter["fromBlock"] = hex(sub.log_block + 1);
    filter["toBlock"] = "latest";
    p.purpose = Pending::Purpose::gap_logs;
    pending_.emplace(send("eth_getLogs", json::array{filter}, out), std::move(p));
    return;
  }
  finish_sync(sub, out);
}

void Book::finish_sync(Sub& sub, Out& out) {
  sub.syncing = false;
  while (!sub.held.empty()) {
    json::value next = std::move(sub.held.front());
    sub.held.pop_front();
    deliver(sub, std::move(next), out);
  }
}

void Book::deliver(Sub& sub, json::value result, Out& out) {
  if (sub.kind == Kind::new_heads && result.is_object()) {
    deliver_head(sub, std::move(result), out);
  } else if (sub.kind == Kind::logs && result.is_object()) {
    deliver_log(sub, std::move(result.get_object()), out);
  } else {
    emit(sub, result, out);
  }
}

void Book::deliver_head(Sub& sub, json::value header, Out& out) {
  const json::object& o = header.get_object();
  const std::optional<std::uint64_t> number = hex_number(o.if_contains("number"));
  const std::string_view hash = text_of(o.if_contains("hash"));
  if (!number) return;
  if (sub.have_head) {
    if (*number < sub.head) return;                            // never backwards
    if (*number == sub.head && hash == sub.head_hash) return;  // already sent
  }
  sub.have_head = true;
  sub.head = *number;
  sub.head_hash = std::string(hash);
  emit(sub, header, out);
}

void Book::deliver_log(Sub& sub, json::object log, Out& out) {
  const std::optional<std::uint64_t> height = hex_number(log.if_contains("blockNumber"));
  if (!height) return;
  const std::string hash(text_of(log.if_contains("blockHash")));
  const std::string index(text_of(log.if_contains("logIndex")));
  const json::value* removed_flag = log.if_contains("removed");
  const bool removed =
      removed_flag != nullptr && removed_flag->is_bool() && removed_flag->get_bool();
  auto& at_height = sub.recent[*height];
  const auto same = std::ranges::find_if(at_height, [&](const Sub::Delivered& d) {
    return d.block_hash == hash && d.log_index == index;
  });
  if (removed) {
    if (same == at_height.end()) return;  // never delivered, or removed already
    at_height.erase(same);
    emit(sub, log, out);
    return;
  }
  if (same != at_height.end()) return;  // a duplicate
  if (sub.log_block > kLogHeightsKept && *height < sub.log_block - kLogHeightsKept) return;
  // A new block at a height whose logs went out with another block hash: that block,
  // and the ones delivered above it, were reorged out. The client hears so before it
  // gets the new ones.
  const bool reorg =
      std::ranges::any_of(at_height, [&](const Sub::Delivered& d) { return d.block_hash != hash; });
  for (auto it = sub.recent.lower_bound(*height); reorg && it != sub.recent.end(); ++it) {
    std::erase_if(it->second, [&](Sub::Delivered& d) {
      if (it->first == *height && d.block_hash == hash) return false;
      d.log["removed"] = true;
      emit(sub, d.log, out);
      return true;
    });
  }
  sub.recent[*height].push_back({hash, index, log});
  sub.log_block = std::max(sub.log_block, *height);
  while (!sub.recent.empty() && sub.recent.begin()->first + kLogHeightsKept < sub.log_block)
    sub.recent.erase(sub.recent.begin());
  emit(sub, log, out);
}

void Book::emit(const Sub& sub, const json::value& result, Out& out) {
  json::object o;
  o["jsonrpc"] = "2.0";
  o["method"] = "eth_subscription";
  o["params"] = json::object{{"subscription", sub.client_id}, {"result", result}};
  out.to_client.push_back(json::serialize(o));
}

}  // namespace veer::proxy::jsonrpc_ws
