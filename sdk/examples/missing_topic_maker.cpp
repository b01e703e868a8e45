// A missing-topic handler: registers for PATH and, for each subscription
// or fetch that selected no topic under it, makes the JSON topic named by
// the request's prefix with the value {"made": <prefix>}, answers, and
// prints the request (one JSON line); exits after COUNT requests.
//
//   castor-example-missing_topic_maker HOST PORT PATH COUNT

#include <castor/client.hpp>

#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: " << argv[0] << " HOST PORT PATH COUNT\n";
    return 2;
  }
  castor::connect_options opts;
  opts.host = argv[1];
  opts.port = static_cast<uint16_t>(std::stoi(argv[2]));
  std::string path = argv[3];
  long count = std::stol(argv[4]);
  // The callback runs on the client's I/O thread, which must not wait for
  // the client's own answers: the requests are served here, in main.
  std::mutex mtx;
  std::condition_variable cv;
  std::deque<castor::missing_topic_request> requests;
  castor::client c;
  try {
    c.connect(opts);
    c.add_missing_topic_handler(path, [&](const castor::missing_topic_request& r) {
       std::lock_guard<std::mutex> lk{mtx};
       requests.push_back(r);
       cv.notify_one();
     }).get();
    std::cerr << "registered" << std::endl;
    for (long i = 0; i < count; ++i) {
      castor::missing_topic_request r;
      {
        std::unique_lock<std::mutex> lk{mtx};
        cv.wait(lk, [&] { return !requests.empty(); });
        r = std::move(requests.front());
        requests.pop_front();
      }
      c.add_topic(r.prefix, {{"type", "json"}}).get();
      c.update(r.prefix, {{"made", r.prefix}}).get();
      r.answer(true);
      std::cout << castor::json{{"selector", r.selector},
                                {"session", r.session},
                                {"operation", r.operation},
                                {"prefix", r.prefix}}
                       .dump()
                << std::endl;
    }
    c.disconnect();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
