#include "ordergate/guards/rate_limit.hpp"
