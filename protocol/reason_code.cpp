#include "protocol/reason_code.hpp"
