/**
 * Insertion-ordered collection with O(1) lookup by id and O(log n) resume-from-position, used for
 * everything that is paginated. Positions are entity sequence numbers, so a marker stays meaningful when
 * the item it points at has been deleted in between.
 *
 * Removal leaves a tombstone that is compacted away in bulk: deleting 100,000 keys one by one with
 * `splice` would be quadratic.
 */
interface Slot<T> {
  seq: number;
  value: T | undefined;
}

/** Items carry their own position. */
export interface Sequenced {
  seq: number;
}

export class OrderedIndex<T extends Sequenced> {
  private slots: Slot<T>[] = [];
  private readonly byId = new Map<string, Slot<T>>();
  private tombstones = 0;

  get size(): number {
    return this.byId.size;
  }

  get(id: string): T | undefined {
    return this.byId.get(id)?.value;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Inserts or replaces. New ids must come with a seq greater than every seq inserted before. */
  upsert(id: string, value: T): void {
    const existing = this.byId.get(id);
    if (existing) {
      existing.value = value;
      return;
    }
    const last = this.slots[this.slots.length - 1];
    const slot: Slot<T> = { seq: value.seq, value };
    this.byId.set(id, slot);
    if (!last || last.seq < value.seq) {
      this.slots.push(slot);
    } else {
      // Only reachable while loading out-of-order data; keep the array sorted.
      this.slots.splice(this.lowerBound(value.seq), 0, slot);
    }
  }

  delete(id: string): T | undefined {
    const slot = this.byId.get(id);
    if (!slot) return undefined;
    this.byId.delete(id);
    const value = slot.value;
    slot.value = undefined;
    this.tombstones++;
    if (this.tombstones > 1024 && this.tombstones > this.byId.size) this.compact();
    return value;
  }

  clear(): void {
    this.slots = [];
    this.byId.clear();
    this.tombstones = 0;
  }

  values(): IterableIterator<T> {
    return this.iterate();
  }

  private *iterate(): IterableIterator<T> {
    for (const slot of this.slots) if (slot.value !== undefined) yield slot.value;
  }

  /**
   * Up to `limit` live items with seq >= `fromSeq` that pass `filter`, plus the seq to resume from when
   * more remain (`undefined` when the end was reached).
   */
  page(fromSeq: number, limit: number, filter?: (item: T) => boolean): { items: T[]; next: number | undefined } {
    const items: T[] = [];
    for (let i = this.lowerBound(fromSeq); i < this.slots.length; i++) {
      const value = (this.slots[i] as Slot<T>).value; // i < slots.length
      if (value === undefined || (filter && !filter(value))) continue;
      if (items.length === limit) return { items, next: value.seq };
      items.push(value);
    }
    return { items, next: undefined };
  }

  private lowerBound(seq: number): number {
    let lo = 0;
    let hi = this.slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.slots[mid] as Slot<T>).seq < seq)
        lo = mid + 1; // mid < hi <= slots.length
      else hi = mid;
    }
    return lo;
  }

  private compact(): void {
    this.slots = this.slots.filter((s) => s.value !== undefined);
    this.tombstones = 0;
  }
}
