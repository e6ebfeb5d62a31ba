// The routes of one parent (a Service port, as one caller namespace sees it) ready to select from:
// their matches ordered by precedence (precedence.ts) and loaded into a core route table.
import { CoreRouteTable } from '../core/route-table.js';
import type { FieldList } from '../core/fields.js';
import type { Route } from './model.js';
import { orderMatches, type RuleRef } from './precedence.js';

export class Router {
  readonly refs: RuleRef[];
  private table: CoreRouteTable;

  /** `routes`: all of one kind (a parent with GRPCRoutes ignores its HTTPRoutes). */
  constructor(readonly routes: readonly Route[]) {
    const { entries, refs } = orderMatches(routes);
    this.table = new CoreRouteTable(entries);
    this.refs = refs;
  }

  /** The rule a request head selects, or null (the Gateway API answer then is 404). */
  select(fields: FieldList): RuleRef | null {
    const i = this.table.select(fields);
    return i < 0 ? null : this.refs[i];
  }

  free(): void { this.table.free(); }
}
