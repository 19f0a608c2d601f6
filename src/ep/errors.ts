/** Errors of the EP layer: tensor conversions, sessions, unsupported dtypes. */
export class EpError extends Error {
  override name = 'EpError';
}
