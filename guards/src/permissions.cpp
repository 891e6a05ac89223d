#include "ordergate/guards/permissions.hpp"
