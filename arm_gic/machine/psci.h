// PSCI 1.0 function identifiers and return codes (Arm DEN0022; reference/arm_virt_machine.md §4),
// over the SMC Calling Convention: function id in w0, arguments in x1..x3, result in x0.
#pragma once

#include <cstdint>

namespace irqdiff::arm::machine::psci {

constexpr uint32_t kVersion = 0x8400'0000;
constexpr uint32_t kCpuSuspend32 = 0x8400'0001, kCpuSuspend64 = 0xC400'0001;
constexpr uint32_t kCpuOff = 0x8400'0002;
constexpr uint32_t kCpuOn32 = 0x8400'0003, kCpuOn64 = 0xC400'0003;
constexpr uint32_t kAffinityInfo32 = 0x8400'0004, kAffinityInfo64 = 0xC400'0004;
constexpr uint32_t kMigrateInfoType = 0x8400'0006;
constexpr uint32_t kSystemOff = 0x8400'0008;
constexpr uint32_t kSystemReset = 0x8400'0009;
constexpr uint32_t kFeatures = 0x8400'000A;
constexpr uint32_t kSmcccVersion = 0x8000'0000;

constexpr uint32_t kVersion1_0 = 0x0001'0000;  // PSCI_VERSION: major 1, minor 0
constexpr int64_t kMigrateInfoNoTrustedOs = 2;  // MIGRATE_INFO_TYPE: "Trusted OS not present"

// AFFINITY_INFO results.
constexpr int64_t kAffinityOn = 0, kAffinityOff = 1, kAffinityOnPending = 2;

// Return codes.
constexpr int64_t kSuccess = 0;
constexpr int64_t kNotSupported = -1;
constexpr int64_t kInvalidParameters = -2;
constexpr int64_t kDenied = -3;
constexpr int64_t kAlreadyOn = -4;
constexpr int64_t kOnPending = -5;
constexpr int64_t kInternalFailure = -6;
constexpr int64_t kNotPresent = -7;
constexpr int64_t kDisabled = -8;
constexpr int64_t kInvalidAddress = -9;

/// Is `fid` (w0) a function this board implements (PSCI_FEATURES returns 0 for it)?
constexpr bool implemented(uint32_t fid) {
    switch (fid) {
        case kVersion:
        case kCpuOff:
        case kCpuOn32:
        case kCpuOn64:
        case kAffinityInfo32:
        case kAffinityInfo64:
        case kMigrateInfoType:
        case kSystemOff:
        case kSystemReset:
        case kFeatures: return true;
        default: return false;
    }
}

}  // namespace irqdiff::arm::machine::psci
