// The compact vocabulary of GPT-2's token embedding and tied head (`--head-vocab data`): the
// model keeps a row for each of K ids (those seen in the training split) and one "other" row,
// and the V − K ids it does not keep share other's probability evenly. It is still a
// distribution over all V ids; with h the final hidden state and W the [K + 1, C] rows,
//   p(kept id v)   = softmax(W·h)[row(v)]
//   p(unseen id u) = softmax(W·h)[other] / (V − K)
// so its logits over the whole vocabulary are the rows' logits, an unseen id taking other's
// minus log(V − K) (logitShift), and its loss at an unseen target is CE(other) + log(V − K).
// An unseen input id embeds as the other row.
// Promise: rowOf maps every id of [0, V) to its row, columnOf is a permutation of [0, V); the kept ids are ascending, at least one,
// and fewer than V (an "other" row that stands for no id would take probability from nothing).

export class HeadVocab {
  /** The ids with rows of their own, ascending: [K]. */
  readonly kept: Int32Array;
  /** Rows of the embedding and head: K + 1. */
  readonly rows: number;
  /** The row of every id not kept: K. */
  readonly other: number;
  /** Each id's row: [V]. */
  readonly rowOf: Int32Array;
  /** Each id's place in [the K kept ids, then the V − K unseen ids], both ascending: [V]. */
  readonly columnOf: Int32Array;
  /** log(V − K): how much less likely an unseen id is than the other row. */
  readonly unseenLog: number;

  constructor(
    kept: ArrayLike<number>,
    /** V, the vocabulary the model is a distribution over. */
    readonly size: number,
  ) {
    const K = kept.length;
    if (K < 1 || K >= size) throw new Error(`head_ids: ${K} ids kept of a vocabulary of ${size}; a compact head keeps at least 1 and fewer than all`);
    for (let i = 0; i < K; i++) {
      if (!Number.isInteger(kept[i]) || kept[i] < 0 || kept[i] >= size) throw new Error(`head_ids: id ${kept[i]} at position ${i} is out of range [0, ${size})`);
      if (i > 0 && kept[i] <= kept[i - 1]) throw new Error(`head_ids: ids must be ascending, but ${kept[i]} follows ${kept[i - 1]} at position ${i}`);
    }
    this.kept = Int32Array.from(kept);
    this.rows = K + 1;
    this.other = K;
    this.rowOf = new Int32Array(size).fill(K);
    this.kept.forEach((id, row) => (this.rowOf[id] = row));
    this.columnOf = new Int32Array(size);
    for (let id = 0, unseen = K; id < size; id++) this.columnOf[id] = this.rowOf[id] < K ? this.rowOf[id] : unseen++;
    this.unseenLog = Math.log(size - K);
  }

  /** ids in [0, V) as rows; −1 (an ignored target) stays −1. Anything else is an error starting with `where`. */
  toRows(ids: ArrayLike<number>, where: string): Int32Array {
    const rows = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === -1) rows[i] = -1;
      else if (Number.isInteger(id) && id >= 0 && id < this.size) rows[i] = this.rowOf[id];
      else throw new Error(`${where}: id ${id} at position ${i} is out of range [0, ${this.size})`);
    }
    return rows;
  }

  /** Of rows (toRows' output), how many are counted (not −1) and how many of those are the other row. */
  countOther(rows: Int32Array): { counted: number; other: number } {
    let counted = 0;
    let other = 0;
    for (const r of rows) {
      if (r === -1) continue;
      counted++;
      if (r === this.other) other++;
    }
    return { counted, other };
  }

  /** What each id's logit adds to its row's: 0 for a kept id, −log(V − K) for an unseen one. [V] */
  logitShift(): Float32Array {
    const shift = new Float32Array(this.size).fill(-this.unseenLog);
    for (const id of this.kept) shift[id] = 0;
    return shift;
  }
}
