#pragma once
// A real Store in a temporary directory, reopenable, with a fake clock.

#include <memory>

#include <gtest/gtest.h>

#include "storage/store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/job_scenario.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace jobstate::testing {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.path = dir_.Sub("data");
    Reopen();
  }

  void Reopen() {
    store_.reset();
    auto store = storage::Store::Open(options_, clock_);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
  }

  Result<engine::AppendResult> Append(std::vector<engine::Event> events,
                                      const std::string& org = "acme") {
    return store_->Append(engine::AppendRequest{org, "key-1", std::move(events), {}});
  }

  TempDir dir_;
  FakeClock clock_{kT0 + 60'000};
  storage::StoreOptions options_;
  std::unique_ptr<storage::Store> store_;
};

}  // namespace jobstate::testing
