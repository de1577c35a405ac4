import type { Member } from './list-config.js';

/** The member fields people and other tools read (inspect --json, the plan); never options bits or secrets. */
export interface MemberSummary {
  email: string;
  displayName: string | null;
  delivery: Member['delivery'];
  deliveryStatus: Member['deliveryStatus'];
  moderated: boolean;
  language: string;
}

export function memberSummary(m: Member): MemberSummary {
  return {
    email: m.email,
    displayName: m.displayName,
    delivery: m.delivery,
    deliveryStatus: m.deliveryStatus,
    moderated: m.moderated,
    language: m.language,
  };
}
