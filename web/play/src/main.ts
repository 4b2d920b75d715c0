// orrery's browser pilot client: log in over the WebSocket transport (binary protobuf envelopes, decoded with
// Protobuf-ES), undock, see the system from above, click to approach, warp, jump, chat, and come back with
// Resume after a dropped connection. Served by the admin server at /play; built by scripts/build-play.sh.

import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  type Celestial,
  CelestialKind,
  ClientEnvelopeSchema,
  ErrorCode,
  type ServerEnvelope,
  ServerEnvelopeSchema,
  ShipMotion,
} from "./gen/orrery/v1/game_pb";
import { Mirror } from "./mirror";

const AU = 149_597_870_700;
const JUMP_RANGE_M = 2_500;
const MIN_WARP_M = 150_000;

/** A command as `create` takes it (plain objects for the nested messages). */
type Body = MessageInitShape<typeof ClientEnvelopeSchema>["body"];

/** A refusal from the server, typed. */
class Refused extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly reason: string,
  ) {
    super(`${ErrorCode[code] ?? code}: ${reason}`);
  }
}

/** One WebSocket connection: request ids, answers matched by id, everything else to `onEvent`. */
class Link {
  private nextId = 1;
  private pending = new Map<number, { resolve: (e: ServerEnvelope) => void; reject: (e: Error) => void }>();
  onEvent: (envelope: ServerEnvelope) => void = () => {};
  onClose: () => void = () => {};

  private constructor(private ws: WebSocket) {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (message) => {
      if (!(message.data instanceof ArrayBuffer)) return;
      let envelope: ServerEnvelope;
      try {
        envelope = fromBinary(ServerEnvelopeSchema, new Uint8Array(message.data));
      } catch (error) {
        console.error("undecodable envelope", error);
        ws.close();
        return;
      }
      const waiter = envelope.requestId === 0 ? undefined : this.pending.get(envelope.requestId);
      // Queued is progress on an Undock, not its answer.
      if (waiter && envelope.body.case !== "queued") {
        this.pending.delete(envelope.requestId);
        if (envelope.body.case === "error") waiter.reject(new Refused(envelope.body.value.code, envelope.body.value.reason));
        else waiter.resolve(envelope);
      } else {
        this.onEvent(envelope);
      }
    };
    ws.onclose = () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error("connection closed"));
      this.pending.clear();
      this.onClose();
    };
  }

  static open(url: string): Promise<Link> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve(new Link(ws));
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
  }

  /** Sends a command; returns its request id (a refusal arrives as an event with it). */
  send(body: Body): number {
    const requestId = this.nextId++;
    this.ws.send(toBinary(ClientEnvelopeSchema, create(ClientEnvelopeSchema, { requestId, body })));
    return requestId;
  }

  /** Sends a command and waits for its answer. */
  request(body: Body): Promise<ServerEnvelope> {
    return new Promise((resolve, reject) => {
      const id = this.send(body);
      this.pending.set(id, { resolve, reject });
    });
  }

  close(): void {
    this.onClose = () => {};
    this.ws.close();
  }

  /** Closes the socket as a lost network would (the session reconnects); for tests. */
  drop(): void {
    this.ws.close();
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The pilot's session: credentials, character, token, mirror; reconnects with Resume. */
class Session {
  link?: Link;
  mirror?: Mirror;
  token = "";
  characterId = 0n;
  selected?: bigint;
  ended = false;
  reconnects = 0;

  constructor(
    readonly url: string,
    readonly username: string,
    readonly password: string,
    /** Where a new character starts: a system's name or id; empty lets the server choose. */
    readonly startSystem: string,
  ) {}

  async start(): Promise<void> {
    const link = await this.connect();
    let logged;
    try {
      logged = await link.request({ case: "register", value: { username: this.username, password: this.password } });
    } catch (error) {
      if (!(error instanceof Refused) || error.code !== ErrorCode.NAME_TAKEN) throw error;
      logged = await link.request({ case: "login", value: { username: this.username, password: this.password } });
    }
    if (logged.body.case !== "loggedIn") throw new Error(`unexpected ${logged.body.case}`);
    this.token = logged.body.value.token;
    const characters = logged.body.value.characters;
    let character = characters.find((c) => c.name.toLowerCase() === this.username.toLowerCase()) ?? characters[0];
    if (!character) {
      const start = this.startSystem;
      const startSystem = start === ""
        ? { case: undefined }
        : /^[0-9]+$/.test(start)
          ? { case: "startSystemId" as const, value: Number(start) }
          : { case: "startSystemName" as const, value: start };
      const created = await link.request({ case: "createCharacter", value: { name: this.username, startSystem } });
      if (created.body.case !== "characterCreated" || !created.body.value.character) throw new Error("no character");
      character = created.body.value.character;
    }
    this.characterId = character.characterId;
    await this.undock(link);
  }

  private async connect(): Promise<Link> {
    const link = await Link.open(this.url);
    link.onEvent = (envelope) => this.onEvent(envelope);
    link.onClose = () => this.lost();
    this.link = link;
    return link;
  }

  private async undock(link: Link): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        const answer = await link.request({ case: "undock", value: { characterId: this.characterId } });
        if (answer.body.case !== "snapshot") throw new Error(`unexpected ${answer.body.case}`);
        if (this.mirror) this.mirror.applySnapshot(answer.body.value);
        else this.mirror = new Mirror(answer.body.value);
        ui.draw();
        return;
      } catch (error) {
        // Right after a reconnect the server may still hold the old session's ship for a moment.
        const retry = error instanceof Refused && [ErrorCode.ALREADY_IN_SPACE, ErrorCode.UNAVAILABLE].includes(error.code);
        if (!retry || tries >= 10) throw error;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private onEvent(envelope: ServerEnvelope): void {
    const body = envelope.body;
    switch (body.case) {
      case "delta":
        this.mirror?.applyDelta(body.value);
        break;
      case "snapshot":
        this.mirror?.applySnapshot(body.value);
        break;
      case "notice":
        ui.notice(body.value.text);
        break;
      case "error":
        if (body.value.code === ErrorCode.SESSION_REPLACED || body.value.code === ErrorCode.SHUTTING_DOWN) {
          this.ended = true;
          ui.notice(`session ended: ${body.value.reason}`);
        } else {
          ui.status(`refused: ${ErrorCode[body.value.code]}: ${body.value.reason}`, true);
        }
        break;
      default:
        break;
    }
    ui.draw();
  }

  /** The connection dropped: resume on a new one, unless the server ended the session. */
  private lost(): void {
    this.link = undefined;
    if (this.ended) return;
    ui.status("connection lost; reconnecting…", true);
    setTimeout(() => void this.reconnect(), 1000);
  }

  private async reconnect(): Promise<void> {
    try {
      const link = await this.connect();
      try {
        await link.request({ case: "resume", value: { token: this.token } });
      } catch (error) {
        if (!(error instanceof Refused) || error.code !== ErrorCode.BAD_CREDENTIALS) throw error;
        const logged = await link.request({ case: "login", value: { username: this.username, password: this.password } });
        if (logged.body.case === "loggedIn") this.token = logged.body.value.token;
      }
      await this.undock(link);
      this.reconnects++;
      ui.status(`reconnected (${this.reconnects})`, false);
    } catch (error) {
      ui.status(`reconnect failed: ${(error as Error).message}; retrying`, true);
      if (!this.link) setTimeout(() => void this.reconnect(), 2000);
    }
  }

  command(body: Body): void {
    if (!this.link) return ui.status("not connected", true);
    this.link.send(body);
  }

  async jump(gate: bigint): Promise<void> {
    if (!this.link || !this.mirror) return;
    try {
      const answer = await this.link.request({ case: "jump", value: { gateId: gate } });
      if (answer.body.case === "snapshot") this.mirror.applySnapshot(answer.body.value);
      this.selected = undefined;
      ui.status(`jumped to ${this.mirror.systemName}`, false);
    } catch (error) {
      ui.status(`jump: ${(error as Error).message}`, true);
    }
    ui.draw();
  }
}

function kindName(celestial: Celestial): string {
  switch (celestial.kind) {
    case CelestialKind.STAR:
      return "star";
    case CelestialKind.PLANET:
      return "planet";
    case CelestialKind.STARGATE:
      return "stargate";
    default:
      return "celestial";
  }
}

function distanceText(metres: number | undefined): string {
  if (metres === undefined) return "?";
  if (metres >= 0.1 * AU) return `${(metres / AU).toFixed(1)} AU`;
  if (metres >= 10_000) return `${Math.round(metres / 1000)} km`;
  return `${Math.round(metres)} m`;
}

/** Map coordinates: metres (x, z) to canvas pixels and back. */
interface Projection {
  toScreen: (x: number, z: number) => [number, number];
  toSpace: (sx: number, sy: number) => [number, number];
  scale: string;
}

/** Everything on the page. */
class Ui {
  session?: Session;
  zoom = 1;
  private points: { id: bigint; x: number; y: number }[] = [];

  status(text: string, error: boolean): void {
    const status = $("status");
    status.textContent = text;
    status.className = error ? "error" : "";
  }

  notice(text: string): void {
    const banner = $("notice");
    banner.textContent = text;
    banner.hidden = false;
  }

  /**
   * The map's projection, from above (x right, z down). Zoomed out it shows the whole system around the star
   * on a logarithmic radial scale, so that a station 50 km out and a gate 30 AU out both find a place; zoomed
   * in it is linear, centred on the own ship, each step four times closer.
   */
  private projection(mirror: Mirror, width: number, height: number): Projection {
    let extent = 1;
    for (const c of mirror.celestials.values()) {
      if (c.position) extent = Math.max(extent, Math.hypot(Number(c.position.x), Number(c.position.z)));
    }
    const half = Math.min(width, height) / 2 - 20;
    const [cx, cy] = [width / 2, height / 2];
    if (this.zoom <= 1) {
      const r0 = 1e10;
      const full = Math.log1p(extent / r0);
      return {
        toScreen: (x, z) => {
          const r = Math.hypot(x, z);
          const k = r === 0 ? 0 : (half * Math.log1p(r / r0)) / full / r;
          return [cx + x * k, cy + z * k];
        },
        toSpace: (sx, sy) => {
          const [dx, dy] = [sx - cx, sy - cy];
          const rs = Math.hypot(dx, dy);
          const r = r0 * Math.expm1((rs / half) * full);
          return rs === 0 ? [0, 0] : [(dx / rs) * r, (dy / rs) * r];
        },
        scale: "logarithmic, whole system",
      };
    }
    const own = mirror.ownShip()?.position;
    const [ox, oz] = own ? [Number(own.x), Number(own.z)] : [0, 0];
    const metresPerPixel = extent / this.zoom / half;
    return {
      toScreen: (x, z) => [cx + (x - ox) / metresPerPixel, cy + (z - oz) / metresPerPixel],
      toSpace: (sx, sy) => [ox + (sx - cx) * metresPerPixel, oz + (sy - cy) * metresPerPixel],
      scale: `${distanceText(metresPerPixel * 100)} per 100 px`,
    };
  }

  draw(): void {
    const session = this.session;
    const mirror = session?.mirror;
    if (!session || !mirror) return;
    $("login").hidden = true;
    $("space").hidden = false;
    $("system-name").textContent = `${mirror.systemName} (${mirror.systemId}), tick ${mirror.tick}`;
    const tidi = $("tidi");
    tidi.hidden = mirror.tidiPermille >= 1000;
    tidi.textContent = `Time dilation: ${(mirror.tidiPermille / 10).toFixed(1)} %`;

    const canvas = $<HTMLCanvasElement>("map");
    const context = canvas.getContext("2d");
    if (!context) return;
    const { width, height } = canvas;
    const projection = this.projection(mirror, width, height);
    const project = (x: bigint, z: bigint) => projection.toScreen(Number(x), Number(z));
    $("scale").textContent = projection.scale;
    context.fillStyle = "#05070d";
    context.fillRect(0, 0, width, height);
    context.font = "11px sans-serif";
    this.points = [];
    for (const c of mirror.celestials.values()) {
      if (!c.position) continue;
      const [x, y] = project(c.position.x, c.position.z);
      this.points.push({ id: c.id, x, y });
      context.fillStyle = c.kind === CelestialKind.STAR ? "#ffd34d" : c.kind === CelestialKind.PLANET ? "#6fa8dc" : "#5fd38d";
      context.beginPath();
      if (c.kind === CelestialKind.STARGATE) context.rect(x - 4, y - 4, 8, 8);
      else context.arc(x, y, c.kind === CelestialKind.STAR ? 8 : 5, 0, 2 * Math.PI);
      context.fill();
      context.fillStyle = "#aab";
      context.fillText(c.name, x + 8, y - 6);
    }
    // Ships near one another (a crowd at a gate, two pilots just undocked) get their labels stacked.
    const labels: [number, number][] = [];
    for (const ship of mirror.ships.values()) {
      if (!ship.position) continue;
      const [x, y] = project(ship.position.x, ship.position.z);
      this.points.push({ id: ship.shipId, x, y });
      const own = ship.shipId === mirror.ownShipId;
      context.fillStyle = own ? "#ff9f1c" : "#ffffff";
      context.beginPath();
      context.moveTo(x, y - 5);
      context.lineTo(x + 4, y + 4);
      context.lineTo(x - 4, y + 4);
      context.fill();
      if (own) {
        context.strokeStyle = "#ff9f1c";
        context.beginPath();
        context.arc(x, y, 9, 0, 2 * Math.PI);
        context.stroke();
      }
      context.fillStyle = own ? "#ff9f1c" : "#ddd";
      let labelY = y + 12;
      while (labels.some(([lx, ly]) => Math.abs(lx - x) < 60 && Math.abs(ly - labelY) < 12)) labelY += 13;
      labels.push([x, labelY]);
      context.fillText(`${ship.pilot}${own ? " (you)" : ""}`, x + 8, labelY);
    }
    const selected = this.points.find((p) => p.id === session.selected);
    if (selected) {
      context.strokeStyle = "#e06666";
      context.strokeRect(selected.x - 10, selected.y - 10, 20, 20);
    }
    this.lists(session, mirror);
  }

  private lists(session: Session, mirror: Mirror): void {
    const own = mirror.ownShip();
    const motion = own ? (ShipMotion[own.motion] ?? "?").toLowerCase() : "?";
    $("own-ship").textContent = `Your ship: ${motion}`;
    // Kept element by element (rebuilt only when the system's celestials change), so that a button is not
    // replaced under the pointer every tick.
    const celestials = $("celestial-list");
    const ids = [...mirror.celestials.keys()].join(",");
    if (celestials.dataset.ids !== ids) {
      celestials.dataset.ids = ids;
      celestials.replaceChildren(
        ...[...mirror.celestials.values()].map((c) => {
          const item = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.dataset.id = c.id.toString();
          button.dataset.kind = kindName(c);
          button.onclick = () => this.select(c.id);
          item.append(button);
          return item;
        }),
      );
    }
    for (const button of celestials.querySelectorAll<HTMLButtonElement>("button")) {
      const c = mirror.celestials.get(BigInt(button.dataset.id ?? "0"));
      if (!c) continue;
      button.textContent = `${kindName(c)} ${c.name} — ${distanceText(mirror.distanceTo(c.id))}`;
      button.className = c.id === session.selected ? "selected" : "";
    }
    const ships = $("ship-list");
    ships.replaceChildren(
      ...[...mirror.ships.values()].map((s) => {
        const item = document.createElement("li");
        item.textContent = `${s.pilot}${s.shipId === mirror.ownShipId ? " (you)" : ""} — ${distanceText(mirror.distanceTo(s.shipId))}`;
        item.dataset.pilot = s.pilot;
        return item;
      }),
    );
    const log = $("chat-log");
    log.replaceChildren(
      ...mirror.chat.map((line) => {
        const item = document.createElement("li");
        item.textContent = `<${line.pilot}> ${line.text}`;
        return item;
      }),
    );
    const target = session.selected === undefined ? undefined : mirror.celestials.get(session.selected);
    const distance = session.selected === undefined ? undefined : mirror.distanceTo(session.selected);
    $("selected").textContent = target
      ? `${kindName(target)} ${target.name}: ${distanceText(distance)}`
      : session.selected !== undefined
        ? `ship ${mirror.ships.get(session.selected)?.pilot ?? "?"}: ${distanceText(distance)}`
        : "nothing selected: click an object";
    $<HTMLButtonElement>("approach").disabled = session.selected === undefined;
    $<HTMLButtonElement>("warp").disabled = !target || distance === undefined || distance < MIN_WARP_M + 1000;
    // A warping ship takes no command but chat: jump once it has dropped out.
    const idle = !own || own.motion === ShipMotion.IDLE || own.motion === ShipMotion.UNSPECIFIED;
    $<HTMLButtonElement>("jump").disabled =
      !target || target.kind !== CelestialKind.STARGATE || distance === undefined || distance > JUMP_RANGE_M || !idle;
  }

  select(id: bigint | undefined): void {
    if (this.session) this.session.selected = id;
    this.draw();
  }

  /** A click on the map selects the nearest object within 12 px, or approaches that point of space. */
  click(event: MouseEvent): void {
    const session = this.session;
    const mirror = session?.mirror;
    if (!session || !mirror) return;
    const canvas = $<HTMLCanvasElement>("map");
    const rect = canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) * canvas.width) / rect.width;
    const y = ((event.clientY - rect.top) * canvas.height) / rect.height;
    let best: { id: bigint; d: number } | undefined;
    for (const p of this.points) {
      const d = Math.hypot(p.x - x, p.y - y);
      if (d <= 12 && (!best || d < best.d)) best = { id: p.id, d };
    }
    if (best) return this.select(best.id);
    // The clicked point of space, in the plane of the own ship.
    const [px, pz] = this.projection(mirror, canvas.width, canvas.height).toSpace(x, y);
    const point = { x: BigInt(Math.round(px)), y: mirror.ownShip()?.position?.y ?? 0n, z: BigInt(Math.round(pz)) };
    session.command({ case: "approach", value: { target: { case: "point", value: point } } });
  }
}

const ui = new Ui();

function serverUrl(): string {
  const given = new URLSearchParams(location.search).get("ws");
  return given ?? `ws://${location.hostname || "127.0.0.1"}:7778/`;
}

function wire(): void {
  $<HTMLInputElement>("server").value = serverUrl();
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = $<HTMLInputElement>("server").value.trim();
    const username = $<HTMLInputElement>("username").value.trim();
    const password = $<HTMLInputElement>("password").value;
    const startSystem = $<HTMLInputElement>("start-system").value.trim();
    const session = new Session(url, username, password, startSystem);
    ui.session = session;
    ui.status("connecting…", false);
    session.start().then(
      () => ui.status(`in space as ${username}`, false),
      (error: Error) => ui.status(error.message, true),
    );
  });
  $("map").addEventListener("click", (event) => ui.click(event));
  $("approach").addEventListener("click", () => {
    const id = ui.session?.selected;
    if (id !== undefined) ui.session?.command({ case: "approach", value: { target: { case: "objectId", value: id } } });
  });
  $("warp").addEventListener("click", () => {
    const id = ui.session?.selected;
    if (id !== undefined) ui.session?.command({ case: "warpTo", value: { objectId: id, rangeM: 0 } });
  });
  $("stop").addEventListener("click", () => ui.session?.command({ case: "stop", value: {} }));
  $("jump").addEventListener("click", () => {
    const id = ui.session?.selected;
    if (id !== undefined) void ui.session?.jump(id);
  });
  $("zoom-in").addEventListener("click", () => {
    ui.zoom *= 4;
    ui.draw();
  });
  $("zoom-out").addEventListener("click", () => {
    ui.zoom = Math.max(1, ui.zoom / 4);
    ui.draw();
  });
  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>("chat-input");
    const text = input.value.trim();
    if (text) ui.session?.command({ case: "chat", value: { text } });
    input.value = "";
  });
  $("notice").addEventListener("click", () => {
    $("notice").hidden = true;
  });
}

// For tests and curious players: the session as the page sees it (read it, do not drive it).
(window as unknown as { orreryPlay: unknown }).orreryPlay = {
  session: () => ui.session,
  dropConnection: () => ui.session?.link?.drop(),
};

wire();
