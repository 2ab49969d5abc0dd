// loss.svg: the train loss per step and the validation loss per evaluation, a picture a person
// can open in a browser (Vega-Lite, rendered without a canvas). Promise: every validation point
// shows, a single one included.
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { MetricsRecord } from './metrics.ts';

export async function lossPlotSvg(records: MetricsRecord[]): Promise<string> {
  const values = records.flatMap((r) => ('val_loss' in r ? [{ step: r.step, loss: r.val_loss, split: 'validation' }] : 'loss' in r ? [{ step: r.step, loss: r.loss, split: 'train' }] : []));
  const spec = vegaLite.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'tsgrad training loss',
    width: 640,
    height: 320,
    background: 'white',
    data: { values },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: 'cross-entropy loss' },
      color: { field: 'split', type: 'nominal', title: null },
    },
    layer: [
      { mark: { type: 'line', interpolate: 'linear' } },
      // evaluations are few: a dot for each, so a single one shows (a line needs two)
      { transform: [{ filter: "datum.split === 'validation'" }], mark: { type: 'point', filled: true, size: 40 } },
    ],
  }).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
