// Precompiled header: the heavy third-party headers every translation unit
// uses. Only external headers belong here, so editing simclr code never
// invalidates it.
#pragma once
#include <torch/torch.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
