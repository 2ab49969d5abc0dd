// The nn package: layers built on the autograd engine, optimizers and schedules.
export { Module } from './module.ts';
export { Parameter } from './parameter.ts';
export { Linear, Embedding, LayerNorm, GELU, Dropout, type InitOptions } from './layers.ts';
export { attentionComposed } from './attention.ts';
export { AdamW, type AdamWOptions, type ParamGroup } from './optim/adamw.ts';
export { SGD, type SGDOptions } from './optim/sgd.ts';
export { Muon, newtonSchulz5, type MuonOptions } from './optim/muon.ts';
export { clipGradNorm, gradNorm } from './optim/clip.ts';
export { learningRate, type ScheduleName, type ScheduleOptions } from './optim/schedule.ts';
export { stateTensors, type Optimizer } from './optim/optimizer.ts';
