import { type TableClient } from "@azure/data-tables";
import type { RowAddress } from "./layout";
import { isStatus } from "./tableBatch";

// One row per detection in the state table says which run owns it (./layout.ts says where):
//   <p>lease / lease   Owner, Mode, ExpiresAt, Released, RetainedAt
// A run takes it before it writes anything, with an ETag (or an insert) so that of two runs
// starting together exactly one wins; every mode of the detection (routine, catch-up) takes the
// same row, so they serialise. It expires, so a run that crashed does not block the detection for
// ever, and a clean end marks it released, so the next run knows the last one did not crash.

type LeaseEntity = {
  partitionKey: string;
  rowKey: string;
  Owner: string;
  Mode: string;
  ExpiresAt: string;
  Released: boolean;
  /** When retention last ran to its end: it runs about hourly, not every five minutes. */
  RetainedAt?: string;
};

/** Another run holds the lease: this run must not write; it is not a failure. */
export class LeaseHeldError extends Error {
  constructor(
    readonly owner: string,
    readonly mode: string,
    readonly expiresAt: Date,
  ) {
    super(
      `another run (${owner}, ${mode}) holds this detection until ${expiresAt.toISOString()}; ` +
        "this run did nothing",
    );
    this.name = "LeaseHeldError";
  }
}

/** This run's lease expired and another run took it: the run must stop writing at once. */
export class LeaseLostError extends Error {
  constructor(owner: string) {
    super(`run ${owner} lost its lease to another run; it stopped before writing more`);
    this.name = "LeaseLostError";
  }
}

/** What a run learns when it takes the lease. */
export interface LeaseGrant {
  lease: Lease;
  /**
   * The previous holder ended without releasing (it crashed or was killed): writes it had
   * started may be half done, so the run repairs before it reads. False for the first lease.
   */
  previousEndedUncleanly: boolean;
}

/** A held lease: renew it while working, release it at the end. */
export class Lease {
  /** When retention last completed, as the lease row remembers it. */
  retainedAt: Date | undefined;

  constructor(
    private readonly table: TableClient,
    private readonly address: RowAddress,
    readonly owner: string,
    private readonly mode: string,
    private readonly durationMs: number,
    private readonly now: () => Date,
    private etag: string,
    private expiresAt: number,
    retainedAt: string | undefined,
  ) {
    this.retainedAt = retainedAt ? new Date(retainedAt) : undefined;
  }

  /** Extends the lease when less than half of it is left; throws LeaseLostError if taken. */
  async renewIfDue(): Promise<void> {
    if (this.expiresAt - this.now().getTime() > this.durationMs / 2) return;
    await this.write(false);
  }

  /** Marks the lease released, so the next run starts at once and knows this one ended cleanly. */
  async release(): Promise<void> {
    await this.write(true);
  }

  private async write(released: boolean): Promise<void> {
    const expiresAt = released ? this.now().getTime() : this.now().getTime() + this.durationMs;
    try {
      const response = await this.table.updateEntity<LeaseEntity>(
        leaseEntity(this.address, this.owner, this.mode, expiresAt, released, this.retainedAt),
        "Replace",
        { etag: this.etag },
      );
      this.etag = response.etag ?? this.etag;
      this.expiresAt = expiresAt;
    } catch (error) {
      if (!isStatus(error, 404, 412)) throw error;
      // A retried write whose first attempt landed also gets 412: still ours if we own it.
      const row = await readLease(this.table, this.address);
      if (row?.Owner !== this.owner) throw new LeaseLostError(this.owner);
      this.etag = row.etag;
      this.expiresAt = Date.parse(row.ExpiresAt);
    }
  }
}

function leaseEntity(
  address: RowAddress,
  owner: string,
  mode: string,
  expiresAt: number,
  released: boolean,
  retainedAt: Date | undefined,
): LeaseEntity {
  return {
    ...(retainedAt ? { RetainedAt: retainedAt.toISOString() } : {}),
    partitionKey: address.partition,
    rowKey: address.row,
    Owner: owner,
    Mode: mode,
    ExpiresAt: new Date(expiresAt).toISOString(),
    Released: released,
  };
}

/** The lease row at this address, if there is one. */
export async function readLease(
  table: TableClient,
  address: RowAddress,
): Promise<(LeaseEntity & { etag: string }) | undefined> {
  try {
    return await table.getEntity<LeaseEntity>(address.partition, address.row);
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

/** Options of one acquisition. */
export interface AcquireOptions {
  owner: string;
  /** What the run does (routine, catch-up), told to a run that finds the lease taken. */
  mode: string;
  durationMs: number;
  now: () => Date;
}

/**
 * Takes the detection's lease, or throws LeaseHeldError when another run holds an unexpired
 * one. Two runs racing for a missing or expired lease: the insert or ETag-guarded replace of
 * exactly one of them succeeds.
 */
export async function acquireLease(
  table: TableClient,
  address: RowAddress,
  options: AcquireOptions,
): Promise<LeaseGrant> {
  const { owner, mode, durationMs, now } = options;
  const current = await readLease(table, address);
  const held = (holder: LeaseEntity): LeaseHeldError =>
    new LeaseHeldError(holder.Owner, holder.Mode, new Date(holder.ExpiresAt));
  if (current && !current.Released && Date.parse(current.ExpiresAt) > now().getTime()) {
    throw held(current);
  }
  const expiresAt = now().getTime() + durationMs;
  // A detection's first lease: nothing is old enough for retention yet.
  const retainedAt = current ? current.RetainedAt : now().toISOString();
  const entity = leaseEntity(
    address,
    owner,
    mode,
    expiresAt,
    false,
    retainedAt ? new Date(retainedAt) : undefined,
  );
  // Whichever write landed, the lease is ours from the row's ETag on.
  const granted = (etag: string): LeaseGrant => ({
    lease: new Lease(table, address, owner, mode, durationMs, now, etag, expiresAt, retainedAt),
    previousEndedUncleanly: current !== undefined && !current.Released,
  });
  try {
    const response = current
      ? await table.updateEntity(entity, "Replace", { etag: current.etag })
      : await table.createEntity(entity);
    return granted(response.etag ?? "");
  } catch (error) {
    if (!isStatus(error, 409, 412)) throw error;
    // Lost the race, or a retried write whose first attempt landed: the row says which.
    const winner = await readLease(table, address);
    if (!winner) throw error;
    if (winner.Owner !== owner) throw held(winner);
    return granted(winner.etag);
  }
}

/** The Mode of a lease row no run may take again: its detection's state moved elsewhere. */
export const RETIRED_MODE = "retired";

/**
 * Marks a lease row held for ever: code that still reads it (an instance of an older version
 * during a deployment) finds it taken and does nothing, instead of starting over on state that
 * has moved.
 */
export async function retireLease(
  table: TableClient,
  address: RowAddress,
  owner: string,
): Promise<void> {
  const entity: LeaseEntity = {
    partitionKey: address.partition,
    rowKey: address.row,
    Owner: owner,
    Mode: RETIRED_MODE,
    ExpiresAt: "9999-12-31T23:59:59.999Z",
    Released: false,
  };
  await table.upsertEntity(entity, "Replace");
}
