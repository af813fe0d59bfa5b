// Templates without a build step: htm turns tagged template literals into Preact elements.
// Text placed in a template is always a text node; nothing here ever parses HTML.
import { h, render, Fragment, createContext } from "preact";
import htm from "htm";

export const html = htm.bind(h);
export { h, render, Fragment, createContext };
export {
  useState, useEffect, useMemo, useRef, useCallback, useContext, useLayoutEffect, useId,
} from "preact/hooks";
