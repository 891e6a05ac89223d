#include "ordergate/guards/validate.hpp"
