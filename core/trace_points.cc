// The lists of core's declared events (core/trace_points.h), in declaration order.
#include "core/trace_points.h"

namespace irqdiff::tp {

TracePointList core_trace_points() {
    static constexpr const TracePointInfo* kAll[] = {
        &kStep,
        &kStepUnrecorded,
        &kQemuStopVcpus,
        &kQemuStopDevices,
        &kQemuCopyMemory,
        &kQemuSwitchOver,
        &kVmGone,
        &kQemuVfioLoadConfig,
        &kQemuMsixEnable,
        &kQemuIrqBypassConnect,
        &kQemuStartVcpus,
        &kQemuStartDevices,
        &kQemuNextMigration,
        &kQemuMigrationCancelled,
        &kQemuStopLateDevice,
        &kQemuMsixWrite,
        &kQemuVfioSetIrqsError,
        &kQemuVfioMsixEnable,
        &kQemuVfioSetIrqs,
        &kQemuIrqfdDeassign,
        &kQemuIrqfdAssign,
        &kQemuSetGsiRouting,
        &kQemuCprPreserveDevices,
        &kQemuCprDetach,
        &kQemuCprOldVmExit,
        &kVfioCprAdopt,
        &kVfioEventfdSignal,
        &kQemuCprAttach,
        &kVfioEventfdPending,
        &kVfioMsihandler,
        &kHostSpuriousIrqError,
        &kVfioSetState,
        &kDeviceMsi,
        &kDeviceHold,
        &kDeviceImpossibleMsi,
        &kGuestSendIpi,
        &kGuestImpossibleIpi,
        &kDeviceMsiAfterDeassign,
        &kGuestIrqEntry,
        &kGuestIrqEntryUnrecorded,
        &kGuestIrqReturn,
        &kGuestIrqReturnTraced,
        &kGuestMask,
        &kGuestUnmask,
        &kGuestStillWaiting,
        &kGuestRun,
        &kGuestRunBudget,
        &kHostPreempt,
    };
    return kAll;
}

TracePointList ideal_trace_points() {
    static constexpr const TracePointInfo* kAll[] = {
        &kGuestWaitForInterrupt,
        &kIdealRetarget,
        &kIdealUnassignIgnored,
        &kGuestToggleLpisIgnored,
        &kIdealDeviceHold,
        &kIdealCoalesce,
        &kIdealPend,
        &kIdealWake,
        &kHostResume,
        &kIdealGuestTake,
        &kVmmStopVcpus,
        &kVmmStartVcpus,
        &kVmmStopDevices,
        &kVmmStartDevices,
        &kDeviceRaiseHeld,
        &kIdealSavePending,
        &kIdealRestorePending,
        &kVmmCopyMemory,
        &kVmmRestoreTranslation,
        &kVmmRestoreDevices,
    };
    return kAll;
}

}  // namespace irqdiff::tp
