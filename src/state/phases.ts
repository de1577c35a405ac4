/** The phases of one list's migration, in order. `phase` in the state database is the last one completed. */
export const PHASES = ['index', 'plan', 'settings', 'roster', 'archive', 'redirects', 'verify'] as const;
export type Phase = (typeof PHASES)[number];
export type ListPhase = 'new' | Phase;

export function phaseIndex(p: ListPhase): number {
  return p === 'new' ? -1 : PHASES.indexOf(p);
}

/** Phases a dry-run performs: everything up to and including the plan, nothing that writes to a target. */
export const DRY_RUN_PHASES: readonly Phase[] = ['index', 'plan'];
