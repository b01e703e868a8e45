#include <cstdio>

int main() {
  std::puts("castor: not built yet");
  return 1;
}
