#include "ordergate/adapters/paper/paper_broker.hpp"
