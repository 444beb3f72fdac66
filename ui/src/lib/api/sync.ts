// Sync and verification: the sync node's state and a verification's findings.

export interface VerifyReport {
  ok: boolean;
  entries: number;
  forks: number;
  /** Peers caught showing different histories to different peers. */
  split_views: number;
  /** Heads a peer signed that are no longer here (a deleted tail, a rollback). */
  rolled_back: number;
  problems: { entry: string; problem: string }[];
  seconds: number;
}

/** The background sync node: connected peers, the last completed pull, addresses. */
/** A peer cut off for proof of misbehaviour, until `cut_off.until_ms`. */
export interface CutOffPeer {
  peer: string;
  name?: string;
  cut_off?: { reason: string; since_ms: number; until_ms: number; strikes: number; active: boolean };
}

export interface SyncStatus {
  peers: string[];
  last_sync_ms: number | null;
  received: number;
  listen: string[];
  /** Peers cut off now (for proof of misbehaviour; each cut-off expires). */
  cut_off: CutOffPeer[];
  /** Entries a peer sent that this home refuses by a rule or that wait: `sync status` lists them. */
  quarantined: number;
}
