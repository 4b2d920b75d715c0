// The page's copy of the pilot's system: a snapshot with every later delta applied, by the rules of
// docs/protocol.md (the same as orrery-client's Mirror): deltas of another system or at or below the last
// applied tick are skipped; `arrived` and `moved` insert or update a ship, `departed` removes it,
// `new_celestials` add to the celestials. Local chat is kept per system (the last CHAT_HISTORY lines).

import type { Celestial, ChatLine, ShipState, SystemDelta, SystemSnapshot } from "./gen/orrery/v1/game_pb";

export const CHAT_HISTORY = 200;

export class Mirror {
  systemId = 0;
  systemName = "";
  nodeId = 0;
  ownShipId = 0n;
  tick = 0n;
  tidiPermille = 1000;
  celestials = new Map<bigint, Celestial>();
  ships = new Map<bigint, ShipState>();
  chat: ChatLine[] = [];

  constructor(snapshot: SystemSnapshot) {
    this.applySnapshot(snapshot);
  }

  /** Replaces the mirror with a snapshot; chat history stays while the system does. */
  applySnapshot(snapshot: SystemSnapshot): void {
    if (snapshot.systemId !== this.systemId) this.chat = [];
    this.systemId = snapshot.systemId;
    this.systemName = snapshot.systemName;
    this.nodeId = snapshot.nodeId;
    this.ownShipId = snapshot.yourShipId;
    this.tick = snapshot.tick;
    this.tidiPermille = snapshot.tidiPermille;
    this.celestials = new Map(snapshot.celestials.map((c) => [c.id, c]));
    this.ships = new Map(snapshot.ships.map((s) => [s.shipId, s]));
    this.hear(snapshot.chat);
  }

  /** Applies one tick's delta; false (nothing changed) when it is not new for this system. */
  applyDelta(delta: SystemDelta): boolean {
    if (delta.systemId !== this.systemId || delta.tick <= this.tick) return false;
    this.tick = delta.tick;
    this.tidiPermille = delta.tidiPermille;
    for (const ship of [...delta.arrived, ...delta.moved]) this.ships.set(ship.shipId, ship);
    for (const gone of delta.departed) this.ships.delete(gone);
    for (const celestial of delta.newCelestials) this.celestials.set(celestial.id, celestial);
    this.hear(delta.chat);
    return true;
  }

  private hear(lines: ChatLine[]): void {
    this.chat.push(...lines);
    if (this.chat.length > CHAT_HISTORY) this.chat.splice(0, this.chat.length - CHAT_HISTORY);
  }

  ownShip(): ShipState | undefined {
    return this.ships.get(this.ownShipId);
  }

  /** Metres from the own ship to a celestial or ship, or undefined when either position is unknown. */
  distanceTo(id: bigint): number | undefined {
    const own = this.ownShip()?.position;
    const target = this.celestials.get(id)?.position ?? this.ships.get(id)?.position;
    if (!own || !target) return undefined;
    const d = (a: bigint, b: bigint) => Number(a - b);
    return Math.hypot(d(own.x, target.x), d(own.y, target.y), d(own.z, target.z));
  }
}
