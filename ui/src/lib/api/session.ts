// Who this home is and how the app stands: identity, joining, status, the error wire form.

export interface AppErrorWire {
  code: string;
  /** The refusing rule's stable code, when a rule refused an entry (REJECTION_CODES). */
  rule?: string;
  message: string;
}

export interface Identity {
  key: string;
  name: string;
  role: string;
  network: string | null;
  admin: boolean;
  /** Holds a network or was told which one to trust (an invitation): until then the app
   *  neither syncs nor listens, and asks for an invitation. */
  joined: boolean;
  /** Where the key is held: `sealed` (a file sealed under a passphrase), `keychain` (the OS
   *  keychain) or `token` (a hardware token, opened with its PIN). */
  key_store: "sealed" | "keychain" | "token";
  /** Whether unlocking asks for a passphrase or PIN (the app's answer: the UI does not decide). */
  needs_passphrase: boolean;
}

/** What opening the key asks for, in words: the token's PIN or the key's passphrase. */
export function secretName(identity: Pick<Identity, "key_store"> | null | undefined): "PIN" | "passphrase" {
  return identity?.key_store === "token" ? "PIN" : "passphrase";
}

export interface Joined {
  network: string;
  founder: string;
  invited_by: string;
  expires_ms: number;
  peers: string[];
}

export interface Status {
  home: string;
  identity: Identity | null;
  /** The home has an identity whose key is not unlocked (at start, or after the idle time). */
  locked: boolean;
  /** The key is still stored unsealed (a home from before sealed keys): unlocking seals it. */
  unsealed: boolean;
  /** The passphrase "Open demo" offers (documented in the README). */
  demo_passphrase: string;
}
