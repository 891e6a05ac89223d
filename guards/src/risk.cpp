#include "ordergate/guards/risk.hpp"
