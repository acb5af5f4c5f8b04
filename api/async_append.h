#pragma once
// JobStore::Submit as an Asio asynchronous operation: the store's callback (on a
// storage thread) is posted back to the caller's executor, and the io_context is kept
// running (work guard) until it arrives, so a graceful shutdown waits for it.

#include <memory>

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "engine/job_store.h"

namespace jobstate::api {

template <class CompletionToken>
auto AsyncAppend(engine::JobStore& store, engine::AppendRequest request,
                 CompletionToken&& token) {
  using Signature = void(Result<engine::AppendResult>);
  return boost::asio::async_initiate<CompletionToken, Signature>(
      [&store](auto handler, engine::AppendRequest req) {
        using Handler = decltype(handler);
        struct State {
          Handler handler;
          boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler>> work;
        };
        auto ex = boost::asio::get_associated_executor(handler);
        auto state = std::make_shared<State>(State{std::move(handler), boost::asio::make_work_guard(ex)});
        store.Submit(std::move(req), [state](Result<engine::AppendResult> r) {
          auto ex = state->work.get_executor();
          boost::asio::post(ex, [state, r = std::move(r)]() mutable {
            state->handler(std::move(r));
            state->work.reset();
          });
        });
      },
      token, std::move(request));
}

}  // namespace jobstate::api
