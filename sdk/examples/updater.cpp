// Makes a JSON topic and updates it COUNT times with random changes of a
// small document (one field changed, added or removed, or an array
// element inserted), waiting for each answer; prints each value.
//
//   castor-example-updater HOST PORT PATH COUNT SEED

#include <castor/client.hpp>

#include <iostream>
#include <random>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: " << argv[0] << " HOST PORT PATH COUNT SEED\n";
    return 2;
  }
  castor::connect_options opts;
  opts.host = argv[1];
  opts.port = static_cast<uint16_t>(std::stoi(argv[2]));
  std::string path = argv[3];
  long count = std::stol(argv[4]);
  std::mt19937 rng(static_cast<unsigned>(std::stoul(argv[5])));
  castor::json doc = {{"name", "pump"}, {"rpm", 1200}, {"list", {1, 2, 3}},
                      {"nested", {{"a", 1}, {"b", "text"}}}};
  castor::client c;
  try {
    c.connect(opts);
    c.add_topic(path, {{"type", "json"}}).get();
    for (long i = 0; i < count; ++i) {
      auto key = "k" + std::to_string(rng() % 12);
      switch (rng() % 5) {
        case 0: doc[key] = static_cast<int>(rng() % 1000); break;
        case 1: doc.erase(key); break;
        case 2: doc["nested"][key] = std::string(rng() % 40, 'x'); break;
        case 3: {
          auto& l = doc["list"];
          l.insert(l.begin() + static_cast<long>(rng() % (l.size() + 1)),
                   static_cast<int>(rng() % 100));
          if (l.size() > 30)
            l.erase(l.begin());
          break;
        }
        default: doc["rpm"] = static_cast<int>(rng() % 5000);
      }
      c.update(path, doc).get();
      std::cout << doc.dump() << "\n";
    }
  } catch (const castor::error& e) {
    std::cerr << "error: " << e.code() << " " << e.message() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 3;
  }
  c.disconnect();
  return 0;
}
