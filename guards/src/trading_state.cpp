#include "ordergate/guards/trading_state.hpp"
