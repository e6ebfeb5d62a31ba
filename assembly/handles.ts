// Small-integer handles for objects the host refers to (connections, parsers, HPACK contexts):
// the host holds numbers, never references into the managed heap. Freed slots are reused.
export class Handles<T> {
  private items: Array<T | null> = [];
  private free: Array<i32> = [];

  add(item: T): i32 {
    if (this.free.length > 0) {
      const id = this.free.pop();
      this.items[id] = item;
      return id;
    }
    this.items.push(item);
    return this.items.length - 1;
  }

  @inline get(id: i32): T {
    return changetype<T>(unchecked(this.items[id]));
  }

  remove(id: i32): void {
    this.items[id] = null;
    this.free.push(id);
  }
}
