#include "ordergate/guards/duplicate.hpp"
