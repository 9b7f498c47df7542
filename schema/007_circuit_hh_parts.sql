-- What a circuit half-hour was folded from, so that a changed register period moves the bucket
-- by its own difference instead of re-summing every register of the circuit (cost independent of
-- the circuit's size). mapped_registers: registers mapped to the circuit for the period when it
-- was folded; complete_registers: of those, the complete ones. NULL (rows from before, or after a
-- mapping of the circuit changed): fold the half-hour again from its registers at the next change.
ALTER TABLE circuit_hh ADD COLUMN mapped_registers INTEGER;
ALTER TABLE circuit_hh ADD COLUMN complete_registers INTEGER;
