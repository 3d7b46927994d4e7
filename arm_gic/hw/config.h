// The GIC model's configuration: what the implementation is (version, how many ITSs and
// redistributors, identifier widths) and every CONSTRAINED UNPREDICTABLE or IMPLEMENTATION
// DEFINED choice the model makes, each a named field tied to a policy (the Policy descriptors
// below, declared in config.cc) so a scenario can run under each choice (DESIGN.md "Modelling
// rules").
#pragma once

#include <array>
#include <cstdint>

#include "core/policy.h"

namespace irqdiff::arm {

enum class GicVersion : uint8_t { V4_0, V4_1 };
const char* to_string(GicVersion v);

/// What the ITS does with a command it cannot carry out. IHI 0069 leaves the response to a
/// command error CONSTRAINED UNPREDICTABLE between ignoring the command and stalling the queue
/// (GITS_CREADR.Stalled, resumed by GITS_CWRITER.Retry); QEMU's TCG model picks per error.
enum class ErrorResponse : uint8_t {
    Ignore,  // drop the command, log a GuestError event, go on with the next one
    Stall,   // stop at this command with GITS_CREADR.Stalled = 1 until software retries
};
const char* to_string(ErrorResponse r);

/// When the redistributor writes its cached VPT bits back to memory. The only architected
/// guarantee is a VMAPP with {V, Alloc} = {0, 1} ("cleans and invalidates any caching of the
/// Virtual Pending Table", Marc Zyngier quoting IHI 0069, 2020-12-01); de-scheduling gives none
/// ("There is no such architectural requirement", same thread). reference/arm §1.5.
enum class VptWriteback : uint8_t {
    OnUnmap,       // only at VMAPP {V, Alloc} = {0, 1}: a read at any other time can be stale
    OnDeschedule,  // also when the vPE is made non-resident (an implementation that happens to)
    Eager,         // write-through: memory always holds the current bits
};
const char* to_string(VptWriteback w);

/// Where the ITS frames sit in host physical memory. QEMU's virt board puts its one ITS at
/// 0x0808_0000, a 128 KiB region of the control and translation frames (GITS_TRANSLATER at
/// +0x1_0040; reference/arm_virt_machine.md §1); a GICv4.1 ITS adds a 64 KiB vSGI frame after
/// them (reference/arm §1.1). virt has no second ITS: the model places ITS n at
/// 0x0808_0000 + n * 256 KiB, one 256 KiB window per ITS (a layout of its own choosing).
inline constexpr unsigned kMaxIts = 16;
inline constexpr uint64_t kVirtItsBase = 0x0808'0000;
inline constexpr uint64_t kItsWindow = 0x4'0000;
inline constexpr uint64_t kItsFrameBytes = 0x3'0000;  // control, translation, vSGI frames
constexpr std::array<uint64_t, kMaxIts> default_its_bases() {
    std::array<uint64_t, kMaxIts> bases{};
    for (unsigned n = 0; n < kMaxIts; ++n) bases[n] = kVirtItsBase + n * kItsWindow;
    return bases;
}

struct GicConfig {
    GicVersion version = GicVersion::V4_1;
    unsigned its_count = 1;
    /// ITS n's frames start at its_base[n] (64 KiB aligned, windows of kItsFrameBytes that do not
    /// overlap); the MSI bus decodes its GITS_TRANSLATER there (Gic::msi).
    std::array<uint64_t, kMaxIts> its_base = default_its_bases();
    unsigned redistributor_count = 2;  // one per physical CPU, numbered 0.. (GITS_TYPER.PTA = 0)
    unsigned device_id_bits = 16;      // GITS_TYPER.Devbits + 1
    unsigned event_id_bits = 16;       // GITS_TYPER.IDbits + 1: ITT size limit per device
    unsigned lpi_id_bits = 16;         // INTIDs below 2^16 (physical and virtual)
    unsigned vpe_id_bits = 16;         // vPEIDs below 2^16 (VPENDBASER.vPEID[15:0])
    unsigned collection_count = 64;    // collections the ITS accepts (ICIDs 0..count-1)
    unsigned list_registers = 4;       // ICH_LR<n>, n < list_registers (policy arm.list_registers)
    /// GICR_VPENDBASER reads after a schedule (Valid 0 -> 1) or a de-schedule (1 -> 0) that still
    /// see Dirty = 1 while the redistributor parses the VPT or processes the de-schedule
    /// (reference/arm §1.3: asynchronous, polled by Linux; policy arm.vpendbaser_dirty_reads).
    unsigned dirty_reads = 1;
    /// GITS_TYPER.VMOVP: 1 means a VMOVP on one ITS is enough; 0 means every ITS in ITSList must
    /// receive the VMOVP with the same SEQ_NUM before the move completes (reference/arm §1.2).
    bool vmovp_direct = true;

    ErrorResponse command_error = ErrorResponse::Ignore;  // policy arm.its_command_error
    ErrorResponse table_fault = ErrorResponse::Stall;     // policy arm.its_table_fault
    VptWriteback vpt_writeback = VptWriteback::OnUnmap;   // policy arm.vpt_writeback

    bool v41() const { return version == GicVersion::V4_1; }

    /// The configuration a run's policy values select (the descriptors below); the rest keeps
    /// its defaults.
    static GicConfig from_policy(const PolicyValues& policy);
};

// The GIC's policies, read by GicConfig::from_policy (declared in config.cc; their defaults are
// GicConfig's).
extern const Policy<GicVersion> kGicVersionPolicy;       // arm.gic
extern const Policy<ErrorResponse> kCommandErrorPolicy;  // arm.its_command_error
extern const Policy<ErrorResponse> kTableFaultPolicy;    // arm.its_table_fault
extern const Policy<VptWriteback> kVptWritebackPolicy;   // arm.vpt_writeback
extern const Policy<unsigned> kListRegistersPolicy;      // arm.list_registers
extern const Policy<unsigned> kVpendbaserDirtyPolicy;    // arm.vpendbaser_dirty_reads

}  // namespace irqdiff::arm
