/**
 * PageFault: core's {@link Fault} with the x86 page-fault error code, thrown
 * by the MMU's translated accesses when no handler fixes a fault.
 */
import { type Access, Fault, type FaultReason } from "@memstack/core";

/** A page fault (or, with reason `non-canonical`, a #GP) of a translated access. */
export class PageFault extends Fault {
  /** The x86 #PF error code (PF_* bits); -1 for a non-canonical address (#GP has no such code). */
  readonly errorCode: number;

  constructor(pkg: string, address: number, access: Access, reason: FaultReason, errorCode: number) {
    super(pkg, address, access, reason);
    this.errorCode = errorCode;
  }
}
