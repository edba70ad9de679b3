// Umbrella header of the weightnoise C++ core.
#pragma once

#include "weightnoise/activation.hpp"
#include "weightnoise/gradients.hpp"
#include "weightnoise/hessian_trace.hpp"
#include "weightnoise/hvp.hpp"
#include "weightnoise/network.hpp"
#include "weightnoise/noise.hpp"
#include "weightnoise/parallel.hpp"
#include "weightnoise/random.hpp"
#include "weightnoise/train.hpp"
#include "weightnoise/types.hpp"
