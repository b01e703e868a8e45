// sessions/close (actors/api_sessions.cpp): once the API has answered, the
// sessions it closed are no longer listed as connected, even while their
// connections have not yet handled the close, so that a request right
// after the answer (messages/send-to-filter, sessions/list) cannot reach
// them.

#define CAF_SUITE castor_api_sessions

#include "caf/test/dsl.hpp"

#include <memory>
#include <optional>
#include <string>

#include "caf/all.hpp"

#include "actors/api.hpp"
#include "actors/api_sessions.hpp"
#include "actors/session_directory.hpp"
#include "actors/types.hpp"
#include "protocol/api_request.hpp"

using namespace caf;
using namespace castor;

namespace {

using run_atom = atom_constant<atom("run")>;

struct fixture : test_coordinator_fixture<> {
  session_directory_ptr dir = std::make_shared<session_directory>();
  /// Stands in for a connection: counts the closes it is told of.
  std::shared_ptr<int> closes = std::make_shared<int>(0);
  actor connection;
  api_context ctx;

  fixture() {
    auto n = closes;
    connection
        = sys.spawn([n]() -> behavior { return {[n](close_atom) { ++*n; }}; });
    ctx.sessions = dir;
    session_directory::opening o;
    o.client_id = "pump-1";
    dir->opened(o, connection);
    run();
  }

  ~fixture() {
    anon_send_exit(connection, exit_reason::user_shutdown);
    run();
  }

  /// An API request's actor (one a request, as actors/api.cpp makes them)
  /// asked for sessions/close of `filter`.
  void close(const std::string& filter) {
    auto c = ctx;
    auto api = sys.spawn([c](event_based_actor* self) -> behavior {
      return {[=](run_atom, const std::string& filter) -> result<std::string> {
        auto rp = self->make_response_promise<std::string>();
        run_close_sessions(self, c, api::close_sessions{"", filter}, rp);
        return rp;
      }};
    });
    self->send(api, run_atom::value, filter);
  }

  std::optional<session_record> record() const {
    return dir->get(dir->id_of_client("pump-1"));
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(api_sessions_tests, fixture)

CAF_TEST(a closed session is offline as soon as the close has answered) {
  CAF_REQUIRE(record().has_value());
  CAF_CHECK(record()->connection == connection);
  close("$ClientId is 'pump-1'");
  // The API actor alone: the connection has not handled the close yet.
  sched.run_once();
  std::string answer;
  self->receive([&](std::string& a) { answer = a; });
  CAF_CHECK(answer.find("\"closed\":1") != std::string::npos);
  CAF_CHECK_EQUAL(*closes, 0);
  auto r = record();
  CAF_REQUIRE(r.has_value());
  CAF_CHECK(r->connection == nullptr);
  CAF_CHECK(r->facts.fixed && !r->facts.fixed->connected);
  run();
  CAF_CHECK_EQUAL(*closes, 1);
  // A second close finds the session offline.
  close("$ClientId is 'pump-1'");
  run();
  self->receive([&](std::string& a) { answer = a; });
  CAF_CHECK(answer.find("\"offline\":1") != std::string::npos);
  CAF_CHECK_EQUAL(*closes, 1);
}

CAF_TEST_FIXTURE_SCOPE_END()
