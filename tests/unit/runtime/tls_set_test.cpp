// runtime::load_tls against a model over long random sequences of what operators and
// tools do to certificate files (renew into place, break, repair) and to the running
// configuration (reload: refuse on any bad file; admin change: keep the old material
// for a bad file). After every step the set serves what the model says, keeps what did
// not change (same object), and knows which files changed on disk.
#include "runtime/tls_set.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <random>

#include "support/test_pki.hpp"

namespace veer::runtime {
namespace {

using veer::testing::TestPki;

std::string fingerprint_of(const std::string& file) {
  tls::BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) return "";
  tls::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  X509_digest(cert.get(), EVP_sha256(), digest, &length);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

struct ModelListener {
  std::string name;
  std::string served;    // fingerprint in force
  std::string on_disk;   // fingerprint of the file; "" = broken
  bool changed = false;  // the file changed since the material in force was read
};

std::string served(const TlsSet& set, const std::string& listener) {
  return set.listeners.at(listener)->tls->certificates().front().fingerprint_sha256;
}

class TlsSetModel : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"a", "b", "c"}) {
      pki.issue(name);
      conf::ListenerConfig listener;
      listener.name = name;
      listener.tls.emplace();
      listener.tls->default_certificate = {
          pki.dir() + "/" + name + ".crt", pki.dir() + "/" + name + ".key", {}};
      config.listeners.push_back(listener);
      const std::string fp = fingerprint_of(listener.tls->default_certificate.cert);
      model.push_back({name, fp, fp, false});
    }
    TlsLoad first = load_tls(config, {}, keys);
    ASSERT_TRUE(first.errors.empty()) << first.errors.front();
    running = std::move(first.set);
  }

  void renew(ModelListener& l) {
    l.on_disk = fingerprint_of(pki.issue(l.name).cert);
    l.changed = true;
  }
  void breaks(ModelListener& l) {
    pki.write_file(l.name + ".crt", "-----BEGIN CERTIFICATE-----\ngarbage\n");
    l.on_disk.clear();
    l.changed = true;
  }

  // A load as SIGHUP (keep_previous false) or an admin change (true) does it.
  void load(bool keep_previous, int step) {
    bool any_broken = false;
    for (const ModelListener& l : model)
      any_broken = any_broken || (l.changed && l.on_disk.empty());
    const TlsSet before = running;
    TlsLoad result = load_tls(config, running, keys, keep_previous);
    if (any_broken && !keep_previous) {
      EXPECT_FALSE(result.errors.empty()) << "step " << step << ": a broken file must refuse";
      return;  // the running set stays as it was
    }
    ASSERT_TRUE(result.errors.empty()) << "step " << step << ": " << result.errors.front();
    running = std::move(result.set);
    for (ModelListener& l : model) {
      if (!l.changed) {
        EXPECT_EQ(running.listeners.at(l.name), before.listeners.at(l.name))
            << "step " << step << ": an unchanged listener is taken over, not reloaded";
        continue;
      }
      if (l.on_disk.empty()) continue;  // kept (admin change): still changed on disk
      l.served = l.on_disk;
      l.changed = false;
    }
  }

  void check(int step) {
    bool any_changed = false;
    for (const ModelListener& l : model) {
      EXPECT_EQ(served(running, l.name), l.served) << "step " << step << ", listener " << l.name;
      any_changed = any_changed || l.changed;
    }
    EXPECT_EQ(running.files_changed(), any_changed) << "step " << step;
  }

  TestPki pki;
  conf::Config config;
  std::shared_ptr<tls::TicketKeys> keys = tls::TicketKeys::generate();
  TlsSet running;
  std::vector<ModelListener> model;
};

TEST_F(TlsSetModel, FollowsRenewalsBreakagesReloadsAndAdminChanges) {
  std::mt19937 random(20261206);
  constexpr int kSteps = 400;
  for (int step = 0; step < kSteps; ++step) {
    ModelListener& l = model[random() % model.size()];
    switch (random() % 5) {
      case 0:
        renew(l);
        break;
      case 1:
        breaks(l);
        break;
      case 2:
        load(false, step);
        break;
      case 3:
        load(true, step);
        break;
      case 4:
        break;  // time passes: nothing is reloaded by itself
    }
    check(step);
    if (HasFailure()) break;
  }
}

TEST_F(TlsSetModel, ASettingChangeReloadsThatListenerOnly) {
  config.listeners[1].tls->min_version = "1.3";
  TlsLoad result = load_tls(config, running, keys);
  ASSERT_TRUE(result.errors.empty());
  EXPECT_EQ(result.loaded, 1u);
  EXPECT_EQ(result.set.listeners.at("a"), running.listeners.at("a"));
  EXPECT_NE(result.set.listeners.at("b"), running.listeners.at("b"));
}

}  // namespace
}  // namespace veer::runtime
