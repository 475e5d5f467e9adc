// lib.js re-exports the vendored UI library: Preact, its hooks, and htm
// bound to Preact's h as `html`. Page modules import from here (or from
// ui.js, which re-exports these), never from ../vendor directly.
import { h, render, Fragment, createContext } from '../vendor/preact.mjs';
import { useState, useEffect, useRef, useMemo, useCallback, useContext, useId, useReducer } from '../vendor/hooks.mjs';
import htm from '../vendor/htm.mjs';

export const html = htm.bind(h);
export { h, render, Fragment, createContext, useState, useEffect, useRef, useMemo, useCallback, useContext, useId, useReducer };
