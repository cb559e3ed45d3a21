// The visit records of this phone (民情日记 outbox), in IndexedDB: a record is written here
// before it is sent, so that a visit made where there is no signal (a stairwell, a basement) is
// not lost, and it is sent when the browser is back online. Each record keeps the
// Idempotency-Key it was made with: sending it again (a reply lost on the way back, a second tab)
// cannot store the visit twice, the server answers the stored one.
//
// A record: {key, user, household, head_name, address, body, status, created_at, ...}
//   status 'queued'   waiting to be sent (body is the POST /api/v1/visits request)
//          'sent'     the server has it: only a receipt is kept (on_site, distance_m), the
//                     notes and position are dropped from the phone
//          'rejected' the server refused it (error: its message); kept until the user removes it

const DB_NAME = 'wangge';
const STORE = 'visit-outbox';
/** Receipts of sent visits are kept this long, to show the day's work, then deleted. */
const RECEIPT_DAYS = 7;

let dbPromise = null;

function openDb() {
  dbPromise ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'key' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return dbPromise;
}

/** Runs `fn(store)` in one transaction; resolves with the value of its last request when it commits. */
async function tx(mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    let result;
    const req = fn(t.objectStore(STORE));
    if (req) req.onsuccess = () => (result = req.result);
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

export const putRecord = (record) => tx('readwrite', (s) => s.put(record));
export const deleteRecord = (key) => tx('readwrite', (s) => s.delete(key));

/** The records of one user, oldest first (the order they are sent in). */
export async function recordsOf(userId) {
  const all = (await tx('readonly', (s) => s.getAll())) ?? [];
  return all.filter((r) => r.user === userId).sort((a, b) => a.created_at.localeCompare(b.created_at));
}

/** Deletes the receipts older than RECEIPT_DAYS. */
export async function pruneReceipts(now = Date.now()) {
  const all = (await tx('readonly', (s) => s.getAll())) ?? [];
  const old = all.filter((r) => r.status === 'sent' && now - Date.parse(r.created_at) > RECEIPT_DAYS * 86_400_000);
  for (const r of old) await deleteRecord(r.key);
}

/** A new id for a record: crypto.randomUUID() where the page is a secure context, else random bytes. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** The receipt kept of a record once the server has it: no notes, needs or position. */
export function receipt(record, answer) {
  return {
    key: record.key,
    user: record.user,
    household: record.household,
    head_name: record.head_name,
    address: record.address,
    created_at: record.created_at,
    visited_at: record.body.visited_at,
    status: 'sent',
    on_site: answer.on_site,
    distance_m: answer.distance_m,
    visit_id: answer.visit?.id ?? null,
  };
}
