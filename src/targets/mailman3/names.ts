import type { Mailman3TargetConfig } from '../../config/schema.js';
import type { ListConfig } from '../../mailman2/list-config.js';

/** How a Mailman 2 list is named on Mailman 3: its posting address (fqdn) and list id. */
export interface Mailman3Names {
  /** The mail domain of the new list (target.domain, else the list's host_name). */
  mailHost: string;
  /** list@domain, also HyperKitty's list name. */
  fqdn: string;
  /** list.domain, the REST/Postorius list id. */
  listId: string;
}

export function mailman3Names(config: ListConfig, target: Pick<Mailman3TargetConfig, 'domain'>): Mailman3Names {
  const mailHost = (target.domain ?? config.hostName).toLowerCase();
  const local = config.name.toLowerCase();
  return { mailHost, fqdn: `${local}@${mailHost}`, listId: `${local}.${mailHost}` };
}
